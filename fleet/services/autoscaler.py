"""The autoscaler: add a broker to a cell under sustained load, remove one when it idles.

A periodic task (``fleet.tasks.autoscale_task``, every ``SKIFF_AUTOSCALE_INTERVAL`` seconds,
declared in console/periodic.py) calls `autoscale_all()`, which evaluates every cell the
platform can grow itself: kind ``local`` (launched on this host) or ``compose``. Registered
(external) cells are never touched: their owners scale them.

What one evaluation (`evaluate_cell`) looks at
-----------------------------------------------
Four figures, each per broker, each divided by its configured capacity (its *utilisation*):

* **ingress**: the cell's client bytes in per second (what partition leaders counted for tenant
  topics; replication traffic is not included) divided by the number of brokers, against
  ``SKIFF_AUTOSCALE_BROKER_INGRESS_BYTES_PER_SEC``. The rate is the sampler's latest pass
  (`ThroughputSnapshot`, the same figures the live throughput pages show); a snapshot older
  than 3 sampler intervals (at least 30 s) is not used: without fresh rates the autoscaler
  does nothing;
* **egress**: the same for client bytes out (consumer fetches, not replica fetches), against
  ``SKIFF_AUTOSCALE_BROKER_EGRESS_BYTES_PER_SEC``;
* **partitions**: partition replicas per broker (every topic's, internal ones included: they
  cost the brokers heap too), from DescribeLogDirs, against
  ``SKIFF_AUTOSCALE_PARTITIONS_PER_BROKER`` (defaults to ``SKIFF_PARTITIONS_PER_BROKER``, the
  budget placement and topic creation admit work within);
* **disk**: the bytes of the replicas a broker holds, as a fraction of the disk it may use
  (``SKIFF_AUTOSCALE_BROKER_DISK_BYTES``, or when that is 0 the log volume's size as Kafka
  reports it), against ``SKIFF_AUTOSCALE_DISK_FRACTION`` (the fraction that counts as full).
  Only Kafka's own data counts: other files on the volume are not the cell's load, and on a
  host where the brokers share one disk (local cells) set a per-broker byte budget.

The figures are means over the brokers: adding a broker (and the ``add-brokers`` rebalance
that follows) lowers the mean; a skew between brokers is a rebalance's job, not a scale's. The
maximum per broker is recorded beside the mean for the cell page.

Levels and what "sustained" means
---------------------------------
Each evaluation puts the cell at one level:

* **high**: any utilisation >= ``SKIFF_AUTOSCALE_HIGH_WATERMARK`` (default 0.8);
* **low**: every utilisation <= ``SKIFF_AUTOSCALE_LOW_WATERMARK`` (default 0.3), and all four
  figures known, and with one broker fewer every utilisation would still stay under the high
  watermark (so removing a broker cannot itself trigger the next scale-up);
* **normal** otherwise, or **unknown** when the figures could not be read (cell unreachable,
  no fresh sample): unknown never scales.

A level is *sustained* when every evaluation since a moment at least the window ago found it:
each decision carries the start of the current streak (``metrics.streak.high_since`` /
``low_since``); an evaluation at another level ends the streak, and so does a gap between two
evaluations longer than 2.5 intervals (what happened in between was not seen). Scale-up needs a
high streak of ``SKIFF_AUTOSCALE_WINDOW_SECONDS`` (default 600 s); scale-down a low streak of
``SKIFF_AUTOSCALE_SCALE_DOWN_WINDOW_SECONDS`` (default 3600 s: slow to give capacity back).

Actions and what holds them
---------------------------
* **scale_up**: `fleet.services.operations.start_operation(kind=add_broker)`: a broker-only
  node joins the cell and an ``add-brokers`` rebalance moves replicas onto it. Not beyond
  ``SKIFF_AUTOSCALE_MAX_BROKERS`` (default 9).
* **scale_down**: `start_operation(kind=remove_broker)` for the highest-numbered broker-only
  node (never a controller; the nodes a cell starts with are combined broker+controller): its
  replicas move away with a ``remove-brokers`` plan, then it stops and is unregistered. Never
  below ``SKIFF_AUTOSCALE_MIN_BROKERS`` (3, and no lower value is accepted).
* **busy**: a fleet operation (anyone's) is planned, running or cancelling on the cell: the
  autoscaler records the figures and does nothing; the streaks restart afterwards, since a
  moving cell's figures say little.
* **cooldown**: a sustained level would act, but less than ``SKIFF_AUTOSCALE_COOLDOWN_SECONDS``
  (default 900 s) have passed since the last scaling decision or since any fleet operation on
  the cell finished (or failed): this is what stops flapping. The streak goes on, so the action
  comes at the first evaluation after the cooldown if the level still holds.
* **none**: everything else, with the reason (e.g. "ingress at 85% of capacity for 120 s of the
  600 s window").

A scaling action ends both streaks: the next one needs a full window of fresh evidence.

The operation runs on a worker, not in the evaluation: `start_operation` records it and hands
it to the Celery task ``fleet.tasks.run_fleet_operation`` (a thread of the web process in the
embedded topology), so the scheduler is never held up by a rebalance. While it runs, every
evaluation is **busy**; when it ends, the cooldown starts. The operation carries
``requested_by="autoscaler"`` and the decision links to it (``AutoscaleDecision.operation``);
the engine audits it like an operator's. Today the engine starts and stops brokers on local
cells only: on a compose cell a scaling verdict is recorded as "none" with the engine's
refusal as its reason (and tried again after the next full window).

``SKIFF_AUTOSCALE_DRY_RUN``: decisions are recorded (``dry_run`` true, same reasons) and no
operation starts; a dry-run scaling decision still starts the cooldown, so the record reads like
what the autoscaler would really have done. ``SKIFF_AUTOSCALE_ENABLED=false``: no evaluation.

Records
-------
Every evaluation is an `AutoscaleDecision` row: action, reason, ``dry_run``, the operation it
started, and ``metrics``: the figures (per broker and per cell), utilisations, level, streak,
and the thresholds they were compared with. Scaling decisions are kept forever (they are rare
and they are the audit trail); routine ones ("none", "cooldown", "busy") are pruned to the
newest ``SKIFF_AUTOSCALE_HISTORY`` (default 720, half a day at one a minute) per cell.

Reading the records: ``reason`` is one line for people ("ingress at 93% of capacity (high
watermark 80%) for 610 s: add a broker to the 3"); ``metrics`` holds ``level``, ``brokers``,
``per_broker`` (mean ingress/egress in bytes/s, partition replicas, disk fraction),
``max_per_broker``, ``cell`` (totals), ``brokers_detail`` (per node: replicas, log bytes, disk
it may fill), ``utilisation`` (figure / capacity per dimension), ``streak``,
``removable_broker_id``, ``problems`` (why a figure is missing) and ``thresholds``.

The decision itself (`decide`) is pure: figures, history, thresholds and the time in, a
`Verdict` out; tests/fleet/test_autoscaler.py covers it without Kafka, and
tests/fleet/test_autoscaler_integration.py scales a real cell out and back in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from console.errors import ApplicationError, Conflict
from fleet.kafka.platform import platform_superuser
from fleet.models import AutoscaleDecision, Broker, Cell, FleetOperation, ThroughputSnapshot
from fleet.services.operations import start_operation

logger = logging.getLogger(__name__)

Action = AutoscaleDecision.Action
SCALABLE_KINDS = (Cell.Kind.LOCAL, Cell.Kind.COMPOSE)
SCALING_ACTIONS = (Action.SCALE_UP, Action.SCALE_DOWN)
ROUTINE_ACTIONS = (Action.NONE, Action.COOLDOWN, Action.BUSY)
REQUESTED_BY = "autoscaler"
DIMENSIONS = ("ingress", "egress", "partitions", "disk")

HIGH, LOW, NORMAL, UNKNOWN = "high", "low", "normal", "unknown"


# --- thresholds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    broker_ingress_bytes_per_sec: float
    broker_egress_bytes_per_sec: float
    partitions_per_broker: int
    disk_fraction: float
    high_watermark: float
    low_watermark: float
    window_seconds: float
    scale_down_window_seconds: float
    cooldown_seconds: float
    min_brokers: int = 3
    max_brokers: int = 9
    # Evaluations further apart than this do not make one streak (2.5 intervals).
    max_gap_seconds: float = 150.0
    dry_run: bool = False
    # Disk a broker may use, in bytes; 0: its log volume's size.
    broker_disk_bytes: int = 0

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            broker_ingress_bytes_per_sec=settings.SKIFF_AUTOSCALE_BROKER_INGRESS_BYTES_PER_SEC,
            broker_egress_bytes_per_sec=settings.SKIFF_AUTOSCALE_BROKER_EGRESS_BYTES_PER_SEC,
            partitions_per_broker=settings.SKIFF_AUTOSCALE_PARTITIONS_PER_BROKER,
            disk_fraction=settings.SKIFF_AUTOSCALE_DISK_FRACTION,
            high_watermark=settings.SKIFF_AUTOSCALE_HIGH_WATERMARK,
            low_watermark=settings.SKIFF_AUTOSCALE_LOW_WATERMARK,
            window_seconds=settings.SKIFF_AUTOSCALE_WINDOW_SECONDS,
            scale_down_window_seconds=settings.SKIFF_AUTOSCALE_SCALE_DOWN_WINDOW_SECONDS,
            cooldown_seconds=settings.SKIFF_AUTOSCALE_COOLDOWN_SECONDS,
            # Never below 3, whatever the environment says (issue 14).
            min_brokers=max(3, settings.SKIFF_AUTOSCALE_MIN_BROKERS),
            max_brokers=settings.SKIFF_AUTOSCALE_MAX_BROKERS,
            max_gap_seconds=2.5 * settings.SKIFF_AUTOSCALE_INTERVAL,
            dry_run=settings.SKIFF_AUTOSCALE_DRY_RUN,
            broker_disk_bytes=settings.SKIFF_AUTOSCALE_BROKER_DISK_BYTES,
        )

    def capacities(self) -> dict[str, float]:
        return {
            "ingress": self.broker_ingress_bytes_per_sec,
            "egress": self.broker_egress_bytes_per_sec,
            "partitions": float(self.partitions_per_broker),
            "disk": self.disk_fraction,
        }


# --- what was observed -------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerFigures:
    node_id: int
    replicas: int
    log_bytes: int
    disk_bytes: int | None  # what the broker may fill (budget or volume size); None: unknown

    @property
    def disk_fraction(self) -> float | None:
        return self.log_bytes / self.disk_bytes if self.disk_bytes else None


@dataclass(frozen=True)
class CellLoad:
    """One observation of a cell. A figure is None when it could not be read."""

    brokers: int
    ingress_bytes_per_sec: float | None = None
    egress_bytes_per_sec: float | None = None
    per_broker: tuple[BrokerFigures, ...] = ()  # empty: the log dirs could not be read
    # The highest-numbered broker-only node: the one a scale-down removes.
    removable_broker_id: int | None = None
    problems: tuple[str, ...] = ()
    sample_taken_at: dt.datetime | None = None

    def figures(self) -> dict[str, float | None]:
        """Per-broker means of the four figures (disk as a fraction of what a broker may fill)."""
        n = max(self.brokers, 1)
        fractions = [b.disk_fraction for b in self.per_broker]
        known = [f for f in fractions if f is not None]
        return {
            "ingress": None
            if self.ingress_bytes_per_sec is None
            else self.ingress_bytes_per_sec / n,
            "egress": None if self.egress_bytes_per_sec is None else self.egress_bytes_per_sec / n,
            "partitions": sum(b.replicas for b in self.per_broker) / n if self.per_broker else None,
            "disk": sum(known) / len(known) if known and len(known) == len(fractions) else None,
        }


def utilisation(load: CellLoad, thresholds: Thresholds, *, brokers: int | None = None) -> dict:
    """Each known figure / its capacity, as if the cell had `brokers` brokers (default: as is)."""
    figures = load.figures()
    scale = (load.brokers / brokers) if brokers else 1.0
    capacities = thresholds.capacities()
    out: dict[str, float] = {}
    for name in DIMENSIONS:
        value = figures[name]
        if value is not None and capacities[name] > 0:
            out[name] = value * scale / capacities[name]
    return out


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def classify(load: CellLoad, thresholds: Thresholds) -> tuple[str, str]:
    """(level, why) of one observation; see the module docstring for the levels."""
    util = utilisation(load, thresholds)
    if not util:
        return UNKNOWN, "; ".join(load.problems) or "no figures"
    hot = {k: v for k, v in util.items() if v >= thresholds.high_watermark}
    if hot:
        worst = max(hot, key=lambda k: hot[k])
        return HIGH, (
            f"{worst} at {_percent(hot[worst])} of capacity "
            f"(high watermark {_percent(thresholds.high_watermark)})"
        )
    busiest = max(util, key=lambda k: util[k])
    summary = f"{busiest} at {_percent(util[busiest])} of capacity"
    missing = [name for name in DIMENSIONS if name not in util]
    if missing:
        return NORMAL, f"{summary}; {', '.join(missing)} unknown ({'; '.join(load.problems)})"
    if util[busiest] > thresholds.low_watermark:
        return NORMAL, summary
    if load.brokers > 1:
        projected = utilisation(load, thresholds, brokers=load.brokers - 1)
        top = max(projected, key=lambda k: projected[k])
        if projected[top] >= thresholds.high_watermark:
            return NORMAL, (
                f"{summary}, but {top} would reach {_percent(projected[top])} with one broker fewer"
            )
    return LOW, f"{summary} (low watermark {_percent(thresholds.low_watermark)})"


# --- the decision (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """What the autoscaler knows of the past of a cell (read from its decisions and operations)."""

    last_evaluated_at: dt.datetime | None = None
    high_since: dt.datetime | None = None
    low_since: dt.datetime | None = None
    # The last scaling decision, or the end of the last fleet operation: cooldown counts from it.
    last_scaled_at: dt.datetime | None = None
    active_operation_id: int | None = None


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str
    level: str
    high_since: dt.datetime | None = None
    low_since: dt.datetime | None = None
    broker_id: int | None = None  # the node a scale-down removes
    utilisation: dict[str, float] = field(default_factory=dict)


def _seconds(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds():.0f} s"


def decide(
    *, load: CellLoad, history: History, thresholds: Thresholds, now: dt.datetime
) -> Verdict:
    """The action for one observation, given the history. Pure: no I/O, no clock."""
    level, why = classify(load, thresholds)
    util = utilisation(load, thresholds)
    continuous = (
        history.last_evaluated_at is not None
        and (now - history.last_evaluated_at).total_seconds() <= thresholds.max_gap_seconds
    )
    high_since = low_since = None
    if level == HIGH:
        high_since = (history.high_since if continuous else None) or now
    elif level == LOW:
        low_since = (history.low_since if continuous else None) or now

    def verdict(action: str, reason: str, *, keep_streak: bool = True, broker_id=None) -> Verdict:
        return Verdict(
            action=action,
            reason=reason,
            level=level,
            high_since=high_since if keep_streak else None,
            low_since=low_since if keep_streak else None,
            broker_id=broker_id,
            utilisation=util,
        )

    if history.active_operation_id is not None:
        return verdict(
            Action.BUSY,
            f"fleet operation #{history.active_operation_id} is under way on the cell; {why}",
            keep_streak=False,
        )
    cooling_until = (
        history.last_scaled_at + dt.timedelta(seconds=thresholds.cooldown_seconds)
        if history.last_scaled_at is not None
        else None
    )
    in_cooldown = cooling_until is not None and now < cooling_until

    if level == HIGH:
        assert high_since is not None
        lasted = now - high_since
        window = dt.timedelta(seconds=thresholds.window_seconds)
        if lasted < window:
            return verdict(
                Action.NONE, f"{why} for {_seconds(lasted)} of the {_seconds(window)} window"
            )
        if load.brokers >= thresholds.max_brokers:
            return verdict(
                Action.NONE,
                f"{why} for {_seconds(lasted)}, but the cell has the maximum of "
                f"{thresholds.max_brokers} brokers",
            )
        if in_cooldown:
            assert cooling_until is not None
            return verdict(
                Action.COOLDOWN,
                f"{why} for {_seconds(lasted)}; cooldown until {cooling_until:%H:%M:%S} UTC",
            )
        return verdict(
            Action.SCALE_UP,
            f"{why} for {_seconds(lasted)}: add a broker to the {load.brokers}",
            keep_streak=False,
        )

    if level == LOW:
        assert low_since is not None
        lasted = now - low_since
        window = dt.timedelta(seconds=thresholds.scale_down_window_seconds)
        if load.brokers <= thresholds.min_brokers:
            return verdict(
                Action.NONE, f"{why}; the cell has the minimum of {thresholds.min_brokers} brokers"
            )
        if load.removable_broker_id is None:
            return verdict(Action.NONE, f"{why}; no broker-only node to remove")
        if lasted < window:
            return verdict(
                Action.NONE, f"{why} for {_seconds(lasted)} of the {_seconds(window)} window"
            )
        if in_cooldown:
            assert cooling_until is not None
            return verdict(
                Action.COOLDOWN,
                f"{why} for {_seconds(lasted)}; cooldown until {cooling_until:%H:%M:%S} UTC",
            )
        return verdict(
            Action.SCALE_DOWN,
            f"{why} for {_seconds(lasted)}: remove broker {load.removable_broker_id} "
            f"of the {load.brokers}",
            keep_streak=False,
            broker_id=load.removable_broker_id,
        )

    return verdict(Action.NONE, why)


# --- reading the cell --------------------------------------------------------------------------


def _sample_freshness() -> dt.timedelta:
    return dt.timedelta(seconds=max(3 * settings.SKIFF_SAMPLER_INTERVAL, 30.0))


def observe_cell(*, cell: Cell, now: dt.datetime, thresholds: Thresholds) -> CellLoad:
    """The cell's figures now: rates from the sampler's snapshot, the rest from its log dirs."""
    problems: list[str] = []
    brokers = list(
        Broker.objects.filter(cell=cell)
        .exclude(state=Broker.State.UNREGISTERED)
        .values_list("node_id", "roles")
    )
    removable = max(
        (node for node, roles in brokers if roles.replace(" ", "") == "broker"), default=None
    )

    ingress = egress = None
    sample_at = None
    snapshot = ThroughputSnapshot.objects.filter(cell=cell).first()
    if snapshot is None:
        problems.append("no throughput sample yet (is the sampler running?)")
    elif now - snapshot.taken_at > _sample_freshness():
        problems.append(f"the last throughput sample is from {snapshot.taken_at:%H:%M:%S} UTC")
    else:
        sample_at = snapshot.taken_at
        ingress = egress = 0.0
        for document in (snapshot.clusters or {}).values():
            rates = document.get("cluster", {})
            ingress += float(rates.get("bytes_in_per_sec", 0.0))
            egress += float(rates.get("bytes_out_per_sec", 0.0))

    per_broker: list[BrokerFigures] = []
    try:
        usage = platform_superuser(cell).broker_log_usage()
    except ApplicationError as exc:
        problems.append(f"log directories unreadable: {exc.message}")
        usage = {}
    for node_id in sorted(usage):
        one = usage[node_id]
        disk = thresholds.broker_disk_bytes or one.total_bytes
        per_broker.append(BrokerFigures(node_id, one.replicas, one.log_bytes, disk or None))
    # The cell's broker count: the recorded ones, or what Kafka answered if more (a cell whose
    # brokers are not all recorded yet).
    count = max(len(brokers), len(per_broker))
    return CellLoad(
        brokers=count,
        ingress_bytes_per_sec=ingress,
        egress_bytes_per_sec=egress,
        per_broker=tuple(per_broker),
        removable_broker_id=removable,
        problems=tuple(problems),
        sample_taken_at=sample_at,
    )


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def cell_history(*, cell: Cell) -> History:
    last = AutoscaleDecision.objects.filter(cell=cell).order_by("-decided_at", "-id").first()
    streak = (last.metrics or {}).get("streak", {}) if last is not None else {}
    last_scale = (
        AutoscaleDecision.objects.filter(cell=cell, action__in=SCALING_ACTIONS)
        .order_by("-decided_at", "-id")
        .values_list("decided_at", flat=True)
        .first()
    )
    last_finished = FleetOperation.objects.filter(cell=cell, finished_at__isnull=False).aggregate(
        at=Max("finished_at")
    )["at"]
    moments = [m for m in (last_scale, last_finished) if m is not None]
    active = (
        FleetOperation.objects.filter(cell=cell, state__in=FleetOperation.ACTIVE_STATES)
        .order_by("created_at")
        .values_list("id", flat=True)
        .first()
    )
    return History(
        last_evaluated_at=last.decided_at if last is not None else None,
        high_since=_parse_time(streak.get("high_since")),
        low_since=_parse_time(streak.get("low_since")),
        last_scaled_at=max(moments) if moments else None,
        active_operation_id=active,
    )


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def decision_metrics(*, load: CellLoad, verdict: Verdict, thresholds: Thresholds) -> dict[str, Any]:
    """The numbers that drove a decision, as stored in `AutoscaleDecision.metrics`."""
    figures = load.figures()
    return {
        "level": verdict.level,
        "brokers": load.brokers,
        "per_broker": figures,  # means; disk as a fraction
        "max_per_broker": {
            "partitions": max((b.replicas for b in load.per_broker), default=None),
            "disk": max(
                (b.disk_fraction for b in load.per_broker if b.disk_fraction is not None),
                default=None,
            ),
        },
        "cell": {
            "ingress_bytes_per_sec": load.ingress_bytes_per_sec,
            "egress_bytes_per_sec": load.egress_bytes_per_sec,
            "partition_replicas": sum(b.replicas for b in load.per_broker)
            if load.per_broker
            else None,
            "log_bytes": sum(b.log_bytes for b in load.per_broker) if load.per_broker else None,
        },
        "brokers_detail": {
            str(b.node_id): {
                "replicas": b.replicas,
                "log_bytes": b.log_bytes,
                "disk_bytes": b.disk_bytes,
            }
            for b in load.per_broker
        },
        "utilisation": {k: round(v, 4) for k, v in verdict.utilisation.items()},
        "streak": {"high_since": _iso(verdict.high_since), "low_since": _iso(verdict.low_since)},
        "sample_taken_at": _iso(load.sample_taken_at),
        "removable_broker_id": load.removable_broker_id,
        "problems": list(load.problems),
        "thresholds": asdict(thresholds),
    }


# --- acting and recording ----------------------------------------------------------------------


def _start(cell: Cell, verdict: Verdict) -> FleetOperation:
    if verdict.action == Action.SCALE_UP:
        return start_operation(
            cell=cell, kind=FleetOperation.Kind.ADD_BROKER, requested_by=REQUESTED_BY
        )
    assert verdict.broker_id is not None
    return start_operation(
        cell=cell,
        kind=FleetOperation.Kind.REMOVE_BROKER,
        mode=FleetOperation.Mode.REMOVE_BROKERS,
        broker_ids=(verdict.broker_id,),
        requested_by=REQUESTED_BY,
    )


def evaluate_cell(
    *, cell: Cell, now: dt.datetime | None = None, thresholds: Thresholds | None = None
) -> AutoscaleDecision:
    """Observe the cell, decide, act (unless dry-run) and record the decision."""
    now = now or timezone.now()
    thresholds = thresholds or Thresholds.from_settings()
    load = observe_cell(cell=cell, now=now, thresholds=thresholds)
    return record_evaluation(cell=cell, load=load, now=now, thresholds=thresholds)


def record_evaluation(
    *, cell: Cell, load: CellLoad, now: dt.datetime, thresholds: Thresholds
) -> AutoscaleDecision:
    """Decide on an observation against the cell's history, act unless dry-run, record it."""
    verdict = decide(load=load, history=cell_history(cell=cell), thresholds=thresholds, now=now)
    action, reason, operation = verdict.action, verdict.reason, None
    if action in SCALING_ACTIONS and not thresholds.dry_run:
        try:
            operation = _start(cell, verdict)
        except Conflict as exc:  # an operation began between our look and our start
            action, reason = Action.BUSY, f"{reason}; not started: {exc.message}"
        except ApplicationError as exc:
            action, reason = Action.NONE, f"{reason}; not started: {exc.message}"
    decision = AutoscaleDecision.objects.create(
        cell=cell,
        decided_at=now,
        action=action,
        reason=reason[:500],
        metrics=decision_metrics(load=load, verdict=verdict, thresholds=thresholds),
        dry_run=thresholds.dry_run,
        operation=operation,
    )
    if action in SCALING_ACTIONS:
        logger.info("autoscaler on cell %s: %s (%s)", cell.name, action, reason)
    prune_decisions(cell=cell)
    return decision


def prune_decisions(*, cell: Cell, keep: int | None = None) -> int:
    """Delete the cell's routine decisions beyond the newest `keep`; scaling ones stay.

    Why prune instead of recording only changes: every evaluation carries the streak the next
    one continues (and the page shows when the cell was last looked at), so the latest row must
    always be written; a bounded tail of routine rows is enough to explain recent inaction.
    """
    keep = settings.SKIFF_AUTOSCALE_HISTORY if keep is None else keep
    stale = list(
        AutoscaleDecision.objects.filter(cell=cell, action__in=ROUTINE_ACTIONS)
        .order_by("-decided_at", "-id")
        .values_list("id", flat=True)[keep:]
    )
    if not stale:
        return 0
    deleted, _ = AutoscaleDecision.objects.filter(id__in=stale).delete()
    return deleted


def autoscale_all(*, now: dt.datetime | None = None) -> list[AutoscaleDecision]:
    """Evaluate every local and compose cell (the periodic task); [] when disabled."""
    if not settings.SKIFF_AUTOSCALE_ENABLED:
        return []
    decisions = []
    for cell in Cell.objects.filter(kind__in=SCALABLE_KINDS).order_by("name"):
        try:
            decisions.append(evaluate_cell(cell=cell, now=now))
        except Exception:  # one cell's failure must not keep the others from being evaluated
            logger.exception("autoscaler: evaluating cell %s failed", cell.name)
    return decisions


__all__ = [
    "BrokerFigures",
    "CellLoad",
    "History",
    "Thresholds",
    "Verdict",
    "autoscale_all",
    "cell_history",
    "classify",
    "decide",
    "evaluate_cell",
    "observe_cell",
    "prune_decisions",
    "record_evaluation",
    "utilisation",
]
