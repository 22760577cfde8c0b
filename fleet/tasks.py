"""Celery tasks of the fleet: ids in, services do the work, safe to run twice."""

from celery import shared_task

from fleet.services.autoscaler import autoscale_all
from fleet.services.legacy_clients import legacy_scram_scan
from fleet.services.operations import resume_stale_operations, run_operation


@shared_task(acks_late=True)
def autoscale_task() -> None:
    """Periodic: evaluate every local and compose cell, scale when a level is sustained."""

    autoscale_all()


@shared_task(acks_late=True)
def run_fleet_operation(operation_id: int) -> None:
    """Run (or resume) one fleet operation; a second delivery finds it claimed and returns."""
    run_operation(operation_id=operation_id)


@shared_task(acks_late=True)
def resume_stale_operations_task() -> None:
    """Periodic: pick up operations whose worker stopped heartbeating (crash, restart)."""
    resume_stale_operations()


@shared_task(acks_late=True)
def legacy_scram_scan_task() -> None:
    """Periodic: copy the brokers' record of old-librdkafka SCRAM failures (issue 17)."""
    legacy_scram_scan()
