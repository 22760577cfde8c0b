"""Fleet operations (issue 14): add or remove a broker, rebalance, rolling restart.

Each operation is a FleetOperation row, and its state lives there, so that it survives the
worker that runs it:

- `preview_operation` says what an operation would do (the planner's summary), touching
  nothing;
- `start_operation` validates, refuses a second active operation on the cell (Conflict), plans,
  records the row (PLANNED), audits, and after the commit schedules `run_operation` (the Celery
  task ``fleet.tasks.run_fleet_operation``; where tasks run inline — no Redis — a background
  thread, since an operation outlasts a page request);
- `run_operation` claims the row (RUNNING, heartbeat), then works through the plan batch by
  batch: set the replication throttle on the brokers and topics of the batch, alter the
  reassignments, poll ListPartitionReassignments until they are done (bounded; heartbeat and a
  look for a cancel between polls), next batch. Whatever the outcome — success, failure,
  cancel — a ``finally`` clears every throttle it set (they are recorded in ``progress``
  before they are set), and a preferred-leader election follows;
- `cancel_operation` asks a running operation to stop (CANCELLING): its runner cancels the
  reassignments in flight (AlterPartitionReassignments with None: the partitions go back to
  their replicas before the batch), clears the throttle and ends CANCELLED;
- `resume_stale_operations` (periodic) picks up RUNNING or CANCELLING operations whose heartbeat
  is older than ``SKIFF_OPERATION_STALE_SECONDS`` (the worker died): the run goes on from the
  batch it had reached, or finishes the cancel.

Kinds: ``rebalance`` (mode full, add-brokers or remove-brokers), ``add_broker`` (start a
broker-only node, then an add-brokers rebalance onto it), ``remove_broker`` (a remove-brokers
rebalance off it, then stop and unregister it) and ``rolling_restart``.

Settings: ``SKIFF_REBALANCE_BATCH_SIZE`` (partitions per batch, 10),
``SKIFF_REBALANCE_THROTTLE_BYTES`` (bytes/s per broker while a batch copies, 50 MB/s),
``SKIFF_REBALANCE_BATCH_TIMEOUT`` (seconds one batch may take, 1800),
``SKIFF_REBALANCE_POLL_SECONDS`` (1) and ``SKIFF_OPERATION_STALE_SECONDS`` (120).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from console.errors import ApplicationError, Conflict, GatewayTimeout, ValidationFailed
from fleet.audit import fleet_audit
from fleet.kafka import reassignments as gateway
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import cell_connection
from fleet.models import Broker, Cell, FleetOperation
from fleet.services.planner import PlanError, RebalancePlan, plan_rebalance

log = logging.getLogger(__name__)

Kind = FleetOperation.Kind
State = FleetOperation.State
MODES = {m.value for m in FleetOperation.Mode}


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def batch_size() -> int:
    return int(_setting("SKIFF_REBALANCE_BATCH_SIZE", 10))


def default_throttle() -> int:
    return int(_setting("SKIFF_REBALANCE_THROTTLE_BYTES", 50 * 1024 * 1024))


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=float(_setting("SKIFF_OPERATION_STALE_SECONDS", 120)))


@dataclass(frozen=True)
class OperationPreview:
    """What an operation would do; `plan` is None for a rolling restart."""

    kind: str
    mode: str
    broker_ids: tuple[int, ...]
    plan: RebalancePlan | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.mode:
            out["mode"] = self.mode
        if self.broker_ids:
            out["brokers"] = ", ".join(map(str, self.broker_ids))
        if self.plan is not None:
            summary = self.plan.summary()
            out.update(
                partitions_moved=summary["partitions_moved"],
                replica_moves=summary["replica_moves"],
                leader_reorders=summary["leader_reorders"],
                bytes_to_copy=summary["bytes_to_copy"],
                batches=summary["batches"],
                replicas_per_broker_before=_per_broker(self.plan.before, "replicas"),
                replicas_per_broker_after=_per_broker(self.plan.after, "replicas"),
                leaders_per_broker_before=_per_broker(self.plan.before, "leaders"),
                leaders_per_broker_after=_per_broker(self.plan.after, "leaders"),
            )
        if self.notes:
            out["notes"] = " ".join(self.notes)
        return out


def _per_broker(loads: Mapping[int, Any], attr: str) -> str:
    return ", ".join(f"{b}: {getattr(load, attr)}" for b, load in sorted(loads.items()))


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


def _validate(
    *, cell: Cell, kind: str, mode: str, broker_ids: Collection[int]
) -> tuple[str, str, tuple[int, ...]]:
    if kind not in Kind.values:
        raise ValidationFailed(
            {"kind": f"Unknown operation '{kind}': use one of {', '.join(Kind.values)}."}
        )
    ids = tuple(sorted({int(b) for b in broker_ids}))
    if kind == Kind.REBALANCE:
        mode = mode or FleetOperation.Mode.FULL
        if mode not in MODES:
            raise ValidationFailed(
                {"mode": f"Unknown rebalance mode '{mode}': use one of {', '.join(sorted(MODES))}."}
            )
        if mode != FleetOperation.Mode.FULL and not ids:
            raise ValidationFailed({"broker_ids": f"Mode '{mode}' needs at least one broker."})
    elif kind == Kind.REMOVE_BROKER:
        mode = FleetOperation.Mode.REMOVE_BROKERS
        if len(ids) != 1:
            raise ValidationFailed({"broker_ids": "Name exactly one broker to remove."})
    elif kind == Kind.ADD_BROKER:
        mode, ids = FleetOperation.Mode.ADD_BROKERS, ()
    else:
        mode, ids = "", ()
    local_only = (Kind.ADD_BROKER, Kind.REMOVE_BROKER, Kind.ROLLING_RESTART)
    if kind in local_only and cell.kind != Cell.Kind.LOCAL:
        raise ValidationFailed(
            f"Cell '{cell.name}' is a {cell.get_kind_display()} cell: the platform starts "
            "and stops brokers only on local cells.",
            code="cell_not_local",
        )
    if kind == Kind.REMOVE_BROKER:
        row = cell.brokers.filter(node_id=ids[0]).first()
        if row is None or row.state == Broker.State.UNREGISTERED:
            raise ValidationFailed({"broker_ids": f"Cell '{cell.name}' has no broker {ids[0]}."})
        if "controller" in (row.roles or ""):
            raise ValidationFailed(
                {
                    "broker_ids": f"Broker {ids[0]} is a controller (a voter of the quorum): "
                    "only brokers added later can be removed."
                },
                code="broker_is_controller",
            )
    return kind, mode, ids


def _live_brokers(cell: Cell) -> dict[int, str]:
    """Broker id → rack of the cell's brokers that can take replicas (not retired)."""
    rows = cell.brokers.exclude(state=Broker.State.UNREGISTERED).order_by("node_id")
    return {b.node_id: b.rack or "" for b in rows}


def _plan(
    *,
    conn: KafkaConnection,
    brokers: Mapping[int, str],
    mode: str,
    targets: Collection[int],
) -> RebalancePlan:
    assignment = gateway.partition_assignments(conn)
    try:
        sizes = gateway.partition_sizes(conn)
    except KafkaGatewayError:  # sizes only refine the plan; the moves stay valid without
        log.warning("partition sizes unavailable; planning by replica counts only")
        sizes = {}
    try:
        return plan_rebalance(
            assignment=assignment,
            brokers=brokers,
            mode=mode,
            target_broker_ids=targets,
            partition_bytes=sizes,
            batch_size=batch_size(),
        )
    except PlanError as exc:
        raise ValidationFailed(str(exc), code="plan_refused") from exc


def preview_operation(
    *, cell: Cell, kind: str, mode: str = "", broker_ids: Collection[int] = ()
) -> OperationPreview:
    """What the operation would do now; no side effects (reads the cell's assignment)."""
    kind, mode, ids = _validate(cell=cell, kind=kind, mode=mode, broker_ids=broker_ids)
    if kind == Kind.ROLLING_RESTART:
        order = sorted(_live_brokers(cell))
        return OperationPreview(
            kind=kind,
            mode="",
            broker_ids=tuple(order),
            notes=(
                f"Restarts brokers {', '.join(map(str, order))} one at a time, each after "
                "every partition's ISR is full again.",
            ),
        )
    brokers = _live_brokers(cell)
    conn = cell_connection(cell)
    if kind == Kind.ADD_BROKER:
        new_id = max(brokers, default=0) + 1
        plan = _plan(conn=conn, brokers={**brokers, new_id: ""}, mode=mode, targets=[new_id])
        return OperationPreview(
            kind=kind,
            mode=mode,
            broker_ids=(new_id,),
            plan=plan,
            notes=(
                f"Starts broker {new_id} (broker only), then moves replicas onto it (add-brokers).",
            ),
        )
    plan = _plan(conn=conn, brokers=brokers, mode=mode, targets=ids)
    notes: tuple[str, ...] = ()
    if kind == Kind.REMOVE_BROKER:
        notes = (f"Moves every replica off broker {ids[0]}, then stops and unregisters it.",)
    return OperationPreview(kind=kind, mode=mode, broker_ids=ids, plan=plan, notes=notes)


# ---------------------------------------------------------------------------------------------
# Start, cancel
# ---------------------------------------------------------------------------------------------


def start_operation(
    *,
    cell: Cell,
    kind: str,
    mode: str = "",
    broker_ids: Collection[int] = (),
    requested_by: str,
    throttle_bytes_per_second: int | None = None,
    broker_config: Mapping[str, str] | None = None,
    run: bool = True,
) -> FleetOperation:
    """Record and schedule an operation. Conflict when another one is active on the cell.

    ``broker_config`` is a rolling restart's broker settings. ``run=False`` records the
    operation without scheduling it (tests, and callers that run it themselves).
    """
    kind, mode, ids = _validate(cell=cell, kind=kind, mode=mode, broker_ids=broker_ids)
    throttle = throttle_bytes_per_second or default_throttle()
    if throttle <= 0:
        raise ValidationFailed({"throttle_bytes_per_second": "The throttle must be positive."})
    plan: dict[str, Any] = {}
    if kind == Kind.REBALANCE or kind == Kind.REMOVE_BROKER:
        brokers = _live_brokers(cell)
        unknown = sorted(set(ids) - set(brokers))
        if unknown:
            raise ValidationFailed(
                {"broker_ids": f"Cell '{cell.name}' has no broker {unknown[0]}."},
            )
        _refuse_if_busy(cell)
        plan = _plan(conn=cell_connection(cell), brokers=brokers, mode=mode, targets=ids).to_dict()
    elif kind == Kind.ROLLING_RESTART:
        plan = {"broker_config": dict(broker_config or {})}
    with transaction.atomic():
        Cell.objects.select_for_update().filter(pk=cell.pk).first()
        _refuse_if_busy(cell)
        operation = FleetOperation.objects.create(
            cell=cell,
            kind=kind,
            mode=mode,
            broker_ids=list(ids),
            state=State.PLANNED,
            plan=plan,
            progress={"step": "planned", **_batch_counts(plan, 0)},
            throttle_bytes_per_second=throttle,
            requested_by=requested_by[:255],
        )
        fleet_audit(
            action="fleet.operation.start",
            target=operation,
            after={
                "cell": cell.name,
                "kind": kind,
                "mode": mode,
                "broker_ids": list(ids),
                "throttle_bytes_per_second": throttle,
                "requested_by": requested_by,
                **({"summary": plan["summary"]} if "summary" in plan else {}),
            },
        )
        if run:
            transaction.on_commit(lambda: dispatch(operation.pk))
    return operation


def _refuse_if_busy(cell: Cell) -> None:
    busy = (
        FleetOperation.objects.filter(cell=cell, state__in=FleetOperation.ACTIVE_STATES)
        .order_by("created_at")
        .first()
    )
    if busy is not None:
        raise Conflict(
            f"Cell '{cell.name}' already has an operation in progress: {busy.get_kind_display()} "
            f"({busy.state}). Wait for it to finish or cancel it.",
            code="operation_in_progress",
        )


def _batch_counts(plan: Mapping[str, Any], done: int) -> dict[str, int]:
    if "batches" not in plan:
        return {}
    return {"batches_total": len(plan["batches"]), "batches_done": done}


def dispatch(operation_id: int) -> None:
    """Run the operation on a worker: the Celery task, or a thread where tasks run inline."""
    if _setting("CELERY_TASK_ALWAYS_EAGER", False):

        def target() -> None:
            try:
                run_operation(operation_id=operation_id)
            except Exception:  # recorded on the row; the thread must not die noisily
                log.exception("fleet operation %s failed", operation_id)
            finally:
                connection.close()  # this thread's own database connection

        threading.Thread(target=target, name=f"fleet-op-{operation_id}", daemon=True).start()
        return
    # By name: fleet.tasks imports this module (and the autoscaler, which imports it too).
    from celery import current_app

    current_app.send_task("fleet.tasks.run_fleet_operation", args=[operation_id])


def cancel_operation(*, operation: FleetOperation) -> FleetOperation:
    """Stop an operation: a planned one ends at once; a running one is told to stop, and its
    runner undoes the batch in flight and clears the throttle (a dead runner's operation is
    finished by `resume_stale_operations`, or here at once when its heartbeat is stale)."""
    with transaction.atomic():
        op = FleetOperation.objects.select_for_update().get(pk=operation.pk)
        if not op.is_active:
            raise Conflict(f"The operation is {op.state} already.", code="operation_finished")
        before = op.state
        if op.state == State.PLANNED:
            op.state = State.CANCELLED
            op.finished_at = timezone.now()
            op.progress = {**op.progress, "step": "cancelled"}
        else:
            op.state = State.CANCELLING
            op.progress = {**op.progress, "step": "cancelling"}
        op.save(update_fields=["state", "finished_at", "progress"])
        fleet_audit(
            action="fleet.operation.cancel",
            target=op,
            before={"state": before},
            after={"state": op.state, "cell": op.cell.name},
        )
        stale = op.heartbeat_at is None or op.heartbeat_at < timezone.now() - stale_after()
        if op.state == State.CANCELLING and stale:
            transaction.on_commit(lambda: dispatch(op.pk))
    return op


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


class _Runner:
    """One run of one operation: heartbeats, progress and cancel checks on its row."""

    def __init__(self, op: FleetOperation) -> None:
        self.op = op
        self.progress: dict[str, Any] = dict(op.progress or {})
        self.poll = float(_setting("SKIFF_REBALANCE_POLL_SECONDS", 1.0))

    def save(self, **progress: Any) -> None:
        """Record progress and the heartbeat (never the state: a cancel may have set it)."""
        self.progress.update(progress)
        FleetOperation.objects.filter(pk=self.op.pk).update(
            progress=self.progress, heartbeat_at=timezone.now()
        )

    def cancel_requested(self) -> bool:
        state = FleetOperation.objects.filter(pk=self.op.pk).values_list("state", flat=True).first()
        return state == State.CANCELLING

    def check_cancel(self) -> None:
        if self.cancel_requested():
            raise _Cancelled()


def _claim(operation_id: int) -> FleetOperation | None:
    """Take the operation for this worker: a planned one, or a running/cancelling one whose
    runner stopped heartbeating. None when another worker has it or it is over."""
    now = timezone.now()
    fresh = Q(heartbeat_at__isnull=False, heartbeat_at__gte=now - stale_after())
    claimed = (
        FleetOperation.objects.filter(pk=operation_id)
        .filter(Q(state=State.PLANNED) | (Q(state__in=(State.RUNNING, State.CANCELLING)) & ~fresh))
        .update(heartbeat_at=now)
    )
    if not claimed:
        return None
    op = FleetOperation.objects.select_related("cell").get(pk=operation_id)
    if op.state == State.PLANNED:
        op.state = State.RUNNING
        op.started_at = op.started_at or now
        op.save(update_fields=["state", "started_at"])
    return op


def run_operation(*, operation_id: int) -> FleetOperation:
    """Run (or resume) an operation to its end. Safe to call twice: a second caller finds it
    claimed and returns. The throttle is cleared in every outcome."""
    op = _claim(operation_id)
    if op is None:
        return FleetOperation.objects.get(pk=operation_id)
    runner = _Runner(op)
    resumed = runner.progress.get("step") not in (None, "planned")
    runner.save(step=runner.progress.get("step") or "running", resumed=resumed)
    outcome, error = State.SUCCEEDED, ""
    try:
        if op.state == State.CANCELLING:
            _finish_cancel(op, runner)  # its runner died while cancelling: finish the job
            raise _Cancelled()
        if op.kind == Kind.ROLLING_RESTART:
            _run_rolling_restart(op, runner)
        else:
            if op.kind == Kind.ADD_BROKER:
                _add_broker_step(op, runner)
            _run_rebalance(op, runner)
            if op.kind == Kind.REMOVE_BROKER:
                runner.check_cancel()
                _retire_step(op, runner)
    except _Cancelled:
        outcome = State.CANCELLED
    except (ApplicationError, KafkaGatewayError) as exc:
        outcome, error = State.FAILED, str(exc)
        log.warning("fleet operation %s failed: %s", op.pk, exc)
    except Exception as exc:  # recorded, then re-raised for the worker's log
        outcome, error = State.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}"
        _finish(op, runner, outcome, error)
        raise
    return _finish(op, runner, outcome, error)


def _finish(op: FleetOperation, runner: _Runner, outcome: str, error: str) -> FleetOperation:
    with transaction.atomic():
        fresh = FleetOperation.objects.select_for_update().get(pk=op.pk)
        if outcome == State.SUCCEEDED and fresh.state == State.CANCELLING:
            outcome = State.CANCELLED  # asked to stop after the last step: it is done anyway
        fresh.state = outcome
        fresh.error = error[:4000]
        fresh.finished_at = timezone.now()
        fresh.heartbeat_at = timezone.now()
        fresh.progress = {**runner.progress, "step": outcome}
        fresh.save(update_fields=["state", "error", "finished_at", "heartbeat_at", "progress"])
        fleet_audit(
            action="fleet.operation.finish",
            target=fresh,
            after={
                "cell": fresh.cell.name,
                "kind": fresh.kind,
                "state": outcome,
                "error": error,
                "batches_done": runner.progress.get("batches_done"),
            },
        )
    return fresh


def _add_broker_step(op: FleetOperation, runner: _Runner) -> None:
    """Start the new broker once (a resumed run finds it recorded), then plan onto it."""
    from fleet.services.cells import add_local_broker

    if runner.progress.get("added_broker_id") is None:
        runner.check_cancel()
        runner.save(step="adding broker")
        started = time.monotonic()
        broker = add_local_broker(cell=op.cell)
        runner.save(broker_start_seconds=round(time.monotonic() - started, 1))
        FleetOperation.objects.filter(pk=op.pk).update(broker_ids=[broker.node_id])
        op.broker_ids = [broker.node_id]
        runner.save(added_broker_id=broker.node_id, step="broker added")
    if not op.plan.get("moves") and "batches" not in op.plan:
        runner.check_cancel()
        new_id = int(runner.progress["added_broker_id"])
        _wait_for_broker(op, new_id)
        plan = _plan(
            conn=cell_connection(op.cell),
            brokers=_live_brokers(op.cell),
            mode=FleetOperation.Mode.ADD_BROKERS,
            targets=[new_id],
        ).to_dict()
        op.plan = plan
        FleetOperation.objects.filter(pk=op.pk).update(plan=plan)
        runner.save(step="planned", **_batch_counts(plan, 0))


def _wait_for_broker(op: FleetOperation, node_id: int, timeout: float = 60.0) -> None:
    """The new broker is registered and unfenced (the controller would not place on it)."""
    from fleet.kafka.brokers import describe_brokers

    conn = cell_connection(op.cell)
    end = time.monotonic() + timeout
    while True:
        try:
            if any(b.node_id == node_id and not b.fenced for b in describe_brokers(conn)):
                return
        except KafkaGatewayError:
            pass
        if time.monotonic() > end:
            raise GatewayTimeout(
                f"Broker {node_id} did not join cell '{op.cell.name}' within {timeout:.0f} s.",
                code="broker_not_joined",
            )
        time.sleep(0.5)


def _retire_step(op: FleetOperation, runner: _Runner) -> None:
    from fleet.services.cells import retire_local_broker

    node_id = int(op.broker_ids[0])
    conn = cell_connection(op.cell)
    left = [k for k, reps in gateway.partition_assignments(conn).items() if node_id in reps]
    if left:
        raise Conflict(
            f"Broker {node_id} still holds {len(left)} replica(s) (e.g. {left[0][0]}-"
            f"{left[0][1]}); it was not stopped.",
            code="broker_not_empty",
        )
    runner.save(step="retiring broker")
    retire_local_broker(cell=op.cell, node_id=node_id)
    runner.save(step="broker retired", retired_broker_id=node_id)


def _run_rolling_restart(op: FleetOperation, runner: _Runner) -> None:
    from fleet.services.rolling_restart import rolling_restart

    def on_progress(info: dict[str, object]) -> None:
        runner.save(step=f"restart: {info.get('step')}", restart=dict(info))

    rolling_restart(
        cell=op.cell,
        broker_config=op.plan.get("broker_config") or None,
        on_progress=on_progress,
        should_stop=runner.cancel_requested,
    )
    if runner.cancel_requested():
        raise _Cancelled()


def _run_rebalance(op: FleetOperation, runner: _Runner) -> None:
    """Apply the plan's batches from where the operation is; throttle cleared in a finally."""
    plan = RebalancePlan.from_dict(op.plan)
    if not plan.batches:
        runner.save(step="nothing to move")
        return
    conn = cell_connection(op.cell)
    with gateway.admin_session(conn):
        _apply_batches(op, runner, plan, conn)


def _apply_batches(
    op: FleetOperation, runner: _Runner, plan: RebalancePlan, conn: KafkaConnection
) -> None:
    rate = int(op.throttle_bytes_per_second or default_throttle())
    started = time.monotonic()
    try:
        for index in range(int(runner.progress.get("batches_done", 0)), len(plan.batches)):
            runner.check_cancel()
            moves = plan.batch_moves(index)
            copying = [m for m in moves if m.copies_data]
            if copying:
                lists = gateway.throttled_replica_lists(
                    {m.key: (m.from_replicas, m.to_replicas) for m in copying}
                )
                brokers = sorted({b for m in copying for b in (*m.from_replicas, *m.to_replicas)})
                # Recorded before they are set: a crash in between still clears them.
                runner.save(
                    step=f"batch {index + 1}: throttling",
                    throttled_brokers=sorted(
                        set(runner.progress.get("throttled_brokers", [])) | set(brokers)
                    ),
                    throttled_topics=sorted(
                        set(runner.progress.get("throttled_topics", [])) | set(lists)
                    ),
                )
                gateway.set_replication_throttle(
                    conn, rate=rate, broker_ids=brokers, replicas_by_topic=lists
                )
            runner.save(step=f"batch {index + 1}: moving", batch_in_flight=index)
            gateway.alter_reassignments(conn, {m.key: list(m.to_replicas) for m in moves})
            _wait_for_batch(conn, runner, [m.key for m in moves], batch_bytes(moves, rate))
            runner.save(
                step=f"batch {index + 1} done", batches_done=index + 1, batch_in_flight=None
            )
    except _Cancelled:
        _cancel_in_flight(conn, plan, runner)
        raise
    except Exception:
        # A failed run leaves no half-done batch behind: its partitions go back (best effort).
        try:
            _cancel_in_flight(conn, plan, runner)
        except KafkaGatewayError:
            log.warning("could not cancel the reassignments of operation %s", op.pk)
        raise
    finally:
        _clear_throttles(conn, runner)
        runner.save(move_seconds=round(time.monotonic() - started, 1))
    _elect_leaders(conn, runner, [m.key for m in plan.moves])


def batch_bytes(moves: Collection[Any], rate: int) -> float:
    """Seconds one batch may take: its copy at the throttled rate, three times over, at least
    a minute, at most SKIFF_REBALANCE_BATCH_TIMEOUT."""
    copied = sum(m.bytes_copied for m in moves)
    ceiling = float(_setting("SKIFF_REBALANCE_BATCH_TIMEOUT", 1800))
    return min(ceiling, max(60.0, 3 * copied / max(rate, 1)))


def _wait_for_batch(
    conn: KafkaConnection,
    runner: _Runner,
    keys: list[tuple[str, int]],
    timeout: float,
) -> None:
    end = time.monotonic() + timeout
    while True:
        ongoing = gateway.list_reassignments(conn, keys)
        if not ongoing:
            return
        runner.save(in_flight=len(ongoing))
        runner.check_cancel()
        if time.monotonic() > end:
            raise GatewayTimeout(
                f"{len(ongoing)} reassignment(s) were still running after {timeout:.0f} s "
                f"(e.g. {min(ongoing)[0]}-{min(ongoing)[1]}): the batch was cancelled and the "
                "throttle cleared. Retry with a higher throttle or a smaller batch size.",
                code="reassignment_timeout",
            )
        time.sleep(runner.poll)


def _cancel_in_flight(conn: KafkaConnection, plan: RebalancePlan, runner: _Runner) -> None:
    """Cancel the reassignments of the batch in flight (they go back to their replicas)."""
    index = runner.progress.get("batch_in_flight")
    if index is None:
        return
    keys = [m.key for m in plan.batch_moves(int(index))]
    ongoing = gateway.list_reassignments(conn, keys)
    # A partition that finished between the list and the cancel keeps its new replicas.
    finished = gateway.alter_reassignments(conn, dict.fromkeys(ongoing)) if ongoing else set()
    cancelled = sorted(set(ongoing) - finished)
    runner.save(
        step="cancelled",
        cancelled_reassignments=len(cancelled),
        cancelled_partitions=[f"{topic}-{partition}" for topic, partition in cancelled],
        batch_in_flight=None,
    )


def _finish_cancel(op: FleetOperation, runner: _Runner) -> None:
    """Undo the batch in flight and clear the recorded throttle (a cancel resumed)."""
    if "batches" not in op.plan:
        return
    conn = cell_connection(op.cell)
    with gateway.admin_session(conn):
        try:
            _cancel_in_flight(conn, RebalancePlan.from_dict(op.plan), runner)
        finally:
            _clear_throttles(conn, runner)


def _clear_throttles(conn: KafkaConnection, runner: _Runner) -> None:
    brokers = runner.progress.get("throttled_brokers") or []
    topics = runner.progress.get("throttled_topics") or []
    if not brokers and not topics:
        return
    gateway.clear_replication_throttle(conn, broker_ids=brokers, topics=topics)
    runner.save(throttled_brokers=[], throttled_topics=[], throttle_cleared=True)


def _elect_leaders(
    conn: KafkaConnection, runner: _Runner, keys: list[tuple[str, int]], timeout: float = 30.0
) -> None:
    """Preferred-leader election for the moved partitions (retried while a new preferred
    replica is still catching up to the ISR)."""
    if not keys:
        return
    runner.save(step="electing preferred leaders")
    end = time.monotonic() + timeout
    failed = gateway.elect_preferred_leaders(conn, keys)
    while failed and time.monotonic() < end:
        time.sleep(runner.poll)
        failed = gateway.elect_preferred_leaders(conn, list(failed))
    runner.save(leader_elections_failed=len(failed))


def resume_stale_operations() -> int:
    """Run again every RUNNING or CANCELLING operation whose worker stopped heartbeating.

    Returns how many were picked up; each is dispatched like a new one (a Celery task, or a
    thread where tasks run inline).
    """
    cutoff = timezone.now() - stale_after()
    ids = list(
        FleetOperation.objects.filter(state__in=(State.RUNNING, State.CANCELLING))
        .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        log.info("resuming fleet operation %s (stale heartbeat)", pk)
        dispatch(pk)
    return len(ids)


__all__ = [
    "OperationPreview",
    "cancel_operation",
    "dispatch",
    "preview_operation",
    "resume_stale_operations",
    "run_operation",
    "start_operation",
]
