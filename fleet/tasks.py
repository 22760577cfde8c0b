"""Celery tasks of the fleet: ids in, services do the work, safe to run twice."""

from celery import shared_task

from fleet.services.autoscaler import autoscale_all


@shared_task(acks_late=True)
def autoscale_task() -> None:
    """Periodic: evaluate every local and compose cell, scale when a level is sustained."""

    autoscale_all()
