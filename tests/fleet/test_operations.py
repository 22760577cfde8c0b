"""Fleet operations without Kafka: validation, one active operation per cell, cancel of a
planned operation, audit rows, and a second runner leaving a claimed operation alone. The runs
themselves are in test_operations_integration.py, on a real cell."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from console.errors import Conflict, ValidationFailed
from console.models import AuditEvent
from fleet.models import Broker, Cell, FleetOperation
from fleet.services import operations

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_cell():
    cell = Cell.objects.create(
        name="unit",
        kind=Cell.Kind.LOCAL,
        bootstrap_servers="127.0.0.1:1",
        credentials_path="/nonexistent/cell.json",
        ca_path="/nonexistent/ca.pem",
    )
    for node_id, roles in ((1, "broker,controller"), (2, "broker,controller"), (4, "broker")):
        Broker.objects.create(cell=cell, node_id=node_id, host="127.0.0.1", port=1, roles=roles)
    return cell


def _audits(op: FleetOperation) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="fleetoperation", target_id=str(op.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "explode"}, "kind"),
        ({"kind": "rebalance", "mode": "sideways"}, "mode"),
        ({"kind": "rebalance", "mode": "add-brokers"}, "broker_ids"),
        ({"kind": "remove_broker"}, "broker_ids"),
        ({"kind": "remove_broker", "broker_ids": [1]}, "broker_ids"),  # a controller
        ({"kind": "remove_broker", "broker_ids": [9]}, "broker_ids"),  # no such broker
    ],
)
def test_bad_input_is_refused_before_anything_happens(local_cell, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        operations.start_operation(cell=local_cell, requested_by="a@example.com", **kwargs)
    assert field in caught.value.fields, caught.value.fields
    assert not FleetOperation.objects.exists()


def test_brokers_are_added_and_removed_only_on_local_cells(local_cell):
    local_cell.kind = Cell.Kind.EXTERNAL
    local_cell.save()
    for kind in ("add_broker", "rolling_restart"):
        with pytest.raises(ValidationFailed, match="only on local cells"):
            operations.start_operation(cell=local_cell, kind=kind, requested_by="a@example.com")


def test_one_active_operation_per_cell_and_a_planned_one_cancels_at_once(local_cell):
    op = operations.start_operation(
        cell=local_cell,
        kind="rolling_restart",
        requested_by="a@example.com",
        broker_config={"num.io.threads": "4"},
        run=False,
    )
    assert op.state == FleetOperation.State.PLANNED
    assert op.plan == {"broker_config": {"num.io.threads": "4"}}
    assert op.throttle_bytes_per_second == operations.default_throttle()
    with pytest.raises(Conflict, match="already has an operation in progress"):
        operations.start_operation(
            cell=local_cell, kind="rolling_restart", requested_by="b@example.com", run=False
        )

    cancelled = operations.cancel_operation(operation=op)
    assert cancelled.state == FleetOperation.State.CANCELLED and cancelled.finished_at
    assert _audits(op) == ["fleet.operation.start", "fleet.operation.cancel"]
    with pytest.raises(Conflict, match="cancelled already"):
        operations.cancel_operation(operation=op)
    # The cell is free again.
    operations.start_operation(
        cell=local_cell, kind="rolling_restart", requested_by="b@example.com", run=False
    )


def test_a_running_operation_with_a_live_heartbeat_is_left_to_its_worker(local_cell):
    now = timezone.now()
    op = FleetOperation.objects.create(
        cell=local_cell,
        kind="rebalance",
        mode="full",
        state=FleetOperation.State.RUNNING,
        plan={"moves": [], "batches": []},
        progress={"step": "batch 1: moving"},
        started_at=now,
        heartbeat_at=now,
    )
    same = operations.run_operation(operation_id=op.pk)
    assert same.state == FleetOperation.State.RUNNING and same.progress == op.progress
    assert operations.resume_stale_operations() == 0
    # Cancelling it only asks: the live worker undoes the batch and clears the throttle.
    asked = operations.cancel_operation(operation=op)
    assert asked.state == FleetOperation.State.CANCELLING


def test_a_stale_running_operation_is_found_by_the_periodic_task(local_cell, monkeypatch):
    old = timezone.now() - dt.timedelta(hours=1)
    op = FleetOperation.objects.create(
        cell=local_cell,
        kind="rebalance",
        mode="full",
        state=FleetOperation.State.RUNNING,
        plan={"moves": [], "batches": []},
        started_at=old,
        heartbeat_at=old,
    )
    dispatched: list[int] = []
    monkeypatch.setattr(operations, "dispatch", dispatched.append)
    assert operations.resume_stale_operations() == 1
    assert dispatched == [op.pk]


def test_an_empty_plan_succeeds_without_touching_kafka(local_cell):
    """A rebalance with nothing to move (a balanced cell) ends SUCCEEDED: no throttle was set,
    none to clear, no election needed."""
    op = FleetOperation.objects.create(
        cell=local_cell,
        kind="rebalance",
        mode="full",
        plan={"mode": "full", "moves": [], "batches": []},
    )
    done = operations.run_operation(operation_id=op.pk)
    assert done.state == FleetOperation.State.SUCCEEDED, done.error
    assert _audits(op) == ["fleet.operation.finish"]
