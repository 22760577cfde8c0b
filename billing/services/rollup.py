"""Hourly roll-up: the metering sources → `UsageRecord (cluster, meter, hour) → quantity`.

Sources (all written by other parts of Skiff, read here only, through those apps' selectors):

* cluster-hours — the cluster's lifecycle, ACTIVATED → DELETED, to the second (a cluster that
  never became active is never billed): `clusters.selectors.cluster_lifecycles`;
* partition-hours — the partition count of every topic over time, to the second, inside the
  cluster's billed interval: `clusters.selectors.topic_partition_changes`;
* storage (GiB-hours) — the sampler's per-minute `storage_bytes`, a gauge of one replica: each
  minute weighs the minute's sample, or the last earlier sample when the sampler missed the
  minute (carried forward until the topic is deleted or the cluster is);
* connector task-hours — each connector's billed task count over time, to the second, inside
  the cluster's billed interval: `clusters.selectors.connector_task_changes` (issue 19);
* data in / data out (GiB) — the sampler's per-minute byte deltas; a sampling gap is carried by
  the next delta, so summing the minutes of the hour loses nothing. The per-minute rows and
  what their fields mean are the contract declared in `fleet.selectors`.

Rolling up an hour SETS its rows from the sources (upsert, and rows the sources no longer give
are removed): re-running any hour gives the same rows, so the roll-up is safe to repeat, to run
late, or to run twice at once. Quantities are Decimal with 12 places; GiB = 2^30 bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import Meter, RolledUpHour, UsageRecord
from billing.periods import HOUR, hour_floor, hours_between
from clusters.selectors import (
    cluster_first_activation,
    cluster_lifecycles,
    connector_task_changes,
    topic_partition_changes,
)
from fleet.selectors import minute_usage_latest, minute_usage_rows

logger = logging.getLogger(__name__)

GIB = Decimal(2**30)
QUANTUM = Decimal("0.000000000001")  # 12 places, as stored
SECONDS_PER_HOUR = Decimal(3600)
# How far back a storage sample is carried forward into a sampler gap.
STORAGE_CARRY = dt.timedelta(days=7)
EPSILON = dt.timedelta(microseconds=1)

UsageKey = tuple[int, str]  # (cluster id, meter)


@dataclass(frozen=True)
class BilledInterval:
    """When a cluster is billed: from activation to deletion (None: still running)."""

    start: dt.datetime
    end: dt.datetime | None

    def clip(self, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The part of `[start, end)` inside the interval (empty: start >= end)."""
        return max(start, self.start), min(end, self.end) if self.end else end


def billed_intervals(
    start: dt.datetime, end: dt.datetime, cluster_ids: Iterable[int] | None = None
) -> dict[int, BilledInterval]:
    """Clusters billed at some instant of `[start, end)`, with their whole billed interval."""
    intervals = {}
    lifecycles = cluster_lifecycles(activated_before=end, cluster_ids=cluster_ids)
    for cluster_id, (activated_at, deleted_at) in lifecycles.items():
        if deleted_at is not None and deleted_at <= start:
            continue
        if deleted_at is not None and deleted_at < activated_at:  # clock skew between writers
            continue
        intervals[cluster_id] = BilledInterval(activated_at, deleted_at)
    return intervals


def _seconds(start: dt.datetime, end: dt.datetime) -> Decimal:
    if end <= start:
        return Decimal(0)
    delta = end - start
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


HourlyUsage = dict[dt.datetime, dict[UsageKey, Decimal]]


@dataclass
class RollupStats:
    """What a roll-up wrote: rows that exist now, and how many it created, changed, removed."""

    rows: int = 0
    created: int = 0
    changed: int = 0
    removed: int = 0

    def add(self, other: RollupStats) -> None:
        self.rows += other.rows
        self.created += other.created
        self.changed += other.changed
        self.removed += other.removed


def _spread(
    into: dict[dt.datetime, dict[int, Decimal]],
    cluster_id: int,
    lo: dt.datetime,
    hi: dt.datetime,
    weight: int,
) -> None:
    """Add weight times the seconds of `[lo, hi)` to each hour it overlaps."""
    if not weight:
        return
    hour = hour_floor(lo)
    while hour < hi:
        seconds = _seconds(max(lo, hour), min(hi, hour + HOUR))
        if seconds:
            bucket = into[hour]
            bucket[cluster_id] = bucket.get(cluster_id, Decimal(0)) + weight * seconds
        hour += HOUR


class _TopicTimeline:
    """When a topic was deleted (and re-created), from its partition events."""

    def __init__(self) -> None:
        self.changes: list[tuple[dt.datetime, bool]] = []  # (when, deleted after it)

    def alive_at(self, moment: dt.datetime) -> bool:
        alive = True  # no event yet: created over Kafka and not synced yet, still billed
        for when, deleted in self.changes:
            if when > moment:
                break
            alive = not deleted
        return alive

    def deletions(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        return [when for when, deleted in self.changes if deleted and start <= when < end]


def _partition_seconds(
    intervals: dict[int, BilledInterval], start: dt.datetime, end: dt.datetime
) -> tuple[dict[dt.datetime, dict[int, Decimal]], dict[tuple[int, str], _TopicTimeline]]:
    """Partition-seconds per hour and cluster in `[start, end)`, and each topic's timeline."""
    totals: dict[dt.datetime, dict[int, Decimal]] = defaultdict(dict)
    timelines: dict[tuple[int, str], _TopicTimeline] = defaultdict(_TopicTimeline)
    # Walk each cluster's history; a topic's count holds from its event until the next one.
    state: dict[tuple[int, str], tuple[int, dt.datetime]] = {}

    def close(key: tuple[int, str], until: dt.datetime) -> None:
        count, since = state[key]
        lo, hi = intervals[key[0]].clip(max(since, start), until)
        if count and hi > lo:
            _spread(totals, key[0], lo, hi, count)

    for change in topic_partition_changes(cluster_ids=list(intervals), before=end):
        key = (change.cluster_id, change.topic)
        if key in state:
            close(key, change.occurred_at)
        state[key] = (change.partition_count, change.occurred_at)
        timelines[key].changes.append((change.occurred_at, change.deleted))
    for key in state:
        close(key, end)
    return totals, timelines


def _task_seconds(
    intervals: dict[int, BilledInterval], start: dt.datetime, end: dt.datetime
) -> dict[dt.datetime, dict[int, Decimal]]:
    """Connector task-seconds per hour and cluster in `[start, end)`: each connector's task
    count holds from its event until its next one."""
    totals: dict[dt.datetime, dict[int, Decimal]] = defaultdict(dict)
    state: dict[int, tuple[int, int, dt.datetime]] = {}  # connector → (cluster, tasks, since)

    def close(connector_id: int, until: dt.datetime) -> None:
        cluster_id, tasks, since = state[connector_id]
        lo, hi = intervals[cluster_id].clip(max(since, start), until)
        if tasks and hi > lo:
            _spread(totals, cluster_id, lo, hi, tasks)

    for change in connector_task_changes(cluster_ids=list(intervals), before=end):
        if change.connector_id in state:
            close(change.connector_id, change.occurred_at)
        state[change.connector_id] = (change.cluster_id, change.tasks, change.occurred_at)
    for connector_id in state:
        close(connector_id, end)
    return totals


def _storage_byte_seconds(
    intervals: dict[int, BilledInterval],
    start: dt.datetime,
    end: dt.datetime,
    timelines: dict[tuple[int, str], _TopicTimeline],
) -> dict[dt.datetime, dict[int, Decimal]]:
    """Storage byte-seconds per hour and cluster over `[start, end)`, one minute per sample."""
    cluster_ids = list(intervals)
    samples: dict[tuple[int, str], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for row in minute_usage_rows(start=start, end=end, cluster_ids=cluster_ids):
        samples[(row.cluster_id, row.topic)].append((row.minute, row.storage_bytes))
    # The value each topic had when the window opened: its last sample before, if recent enough.
    carried: dict[tuple[int, str], tuple[dt.datetime, int]] = {
        (row.cluster_id, row.topic): (row.minute, row.storage_bytes)
        for row in minute_usage_latest(
            cluster_ids=cluster_ids, before=start, since=start - STORAGE_CARRY
        )
    }
    totals: dict[dt.datetime, dict[int, Decimal]] = defaultdict(dict)
    empty = _TopicTimeline()
    for key in set(samples) | set(carried):
        cluster_id, _topic = key
        lo, hi = intervals[cluster_id].clip(start, end)
        if hi <= lo:
            continue
        timeline = timelines.get(key, empty)
        # Piecewise constant: each sample holds for its minute and through any sampler gap
        # after it, until the next sample or the topic's deletion. A sample of a topic that was
        # deleted at the time (the broker still reporting its log) counts nothing.
        points = []
        if key in carried:
            minute, size = carried[key]
            # Not if the topic was deleted since (a re-created topic starts from its own sample).
            kept = timeline.alive_at(minute) and not timeline.deletions(minute, start + EPSILON)
            points.append((start, size if kept else 0))
        points += [(m, size if timeline.alive_at(m) else 0) for m, size in samples.get(key, [])]
        points += [(when, 0) for when in timeline.deletions(start, end)]
        points.sort(key=lambda point: point[0])
        for (since, value), (until, _next) in zip(points, [*points[1:], (hi, 0)], strict=True):
            if value:
                _spread(totals, cluster_id, max(since, lo), min(until, hi), value)
    return totals


def compute_usage_by_hour(
    start: dt.datetime, end: dt.datetime, cluster_ids: Iterable[int] | None = None
) -> HourlyUsage:
    """Usage per hour and (cluster, meter) during `[start, end)`, straight from the sources.

    One pass over the sources for the whole span, split by hour: the roll-up of a backlog (a
    day the task did not run) costs a few queries, not a few per hour. The last hour may be
    open (end = now): month-to-date views use it, so a draft recomputed now counts exactly
    what the roll-up will write for the hours that are closed.
    """
    ids = None if cluster_ids is None else list(cluster_ids)
    intervals = billed_intervals(start, end, ids)
    raw: dict[dt.datetime, dict[UsageKey, Decimal]] = defaultdict(dict)
    cluster_seconds: dict[dt.datetime, dict[int, Decimal]] = defaultdict(dict)
    for cluster_id, interval in intervals.items():
        lo, hi = interval.clip(start, end)
        if hi > lo:
            _spread(cluster_seconds, cluster_id, lo, hi, 1)
    partition_seconds, timelines = _partition_seconds(intervals, start, end)
    storage = _storage_byte_seconds(intervals, start, end, timelines)
    task_seconds = _task_seconds(intervals, start, end)
    for meter, per_hour, divisor in (
        (Meter.CLUSTER_HOURS, cluster_seconds, SECONDS_PER_HOUR),
        (Meter.PARTITION_HOURS, partition_seconds, SECONDS_PER_HOUR),
        (Meter.STORAGE, storage, SECONDS_PER_HOUR * GIB),
        (Meter.CONNECTOR_HOURS, task_seconds, SECONDS_PER_HOUR),
    ):
        for hour, by_cluster in per_hour.items():
            for cluster_id, value in by_cluster.items():
                raw[hour][(cluster_id, meter)] = value / divisor
    # Data: every delta the sampler recorded, billed interval or not (it is real traffic).
    for row in minute_usage_rows(start=start, end=end, cluster_ids=ids, traffic_only=True):
        bucket = raw[hour_floor(row.minute)]
        for meter, moved in ((Meter.DATA_IN, row.bytes_in), (Meter.DATA_OUT, row.bytes_out)):
            if moved:
                key = (row.cluster_id, meter)
                bucket[key] = bucket.get(key, Decimal(0)) + Decimal(moved) / GIB
    result: HourlyUsage = {}
    for hour, usage in raw.items():
        rounded = {key: value.quantize(QUANTUM) for key, value in usage.items()}
        rounded = {key: value for key, value in rounded.items() if value > 0}
        if rounded:
            result[hour] = rounded
    return result


def compute_usage(
    start: dt.datetime, end: dt.datetime, cluster_ids: Iterable[int] | None = None
) -> dict[UsageKey, Decimal]:
    """Usage per (cluster, meter) during `[start, end)` (the hours summed)."""
    total: dict[UsageKey, Decimal] = defaultdict(Decimal)
    for usage in compute_usage_by_hour(start, end, cluster_ids).values():
        for key, value in usage.items():
            total[key] += value
    return dict(total)


def usage_not_rolled_up(
    start: dt.datetime, end: dt.datetime, cluster_ids: Iterable[int] | None = None
) -> HourlyUsage:
    """Usage of the hours of `[start, end)` that have no usage records yet (the open hour, a
    roll-up that has not run), straight from the sources, by hour."""
    rolled = set(
        RolledUpHour.objects.filter(hour_start__gte=start, hour_start__lt=end).values_list(
            "hour_start", flat=True
        )
    )
    first = first_billable_hour()  # nothing to compute before any cluster was activated
    todo = [h for h in hours_between(max(start, first or end), end) if h not in rolled]
    if not todo:
        return {}
    by_hour = compute_usage_by_hour(todo[0], end, cluster_ids)
    return {hour: by_hour[hour] for hour in todo if hour in by_hour}


def rollup_hours(hours: Iterable[dt.datetime], *, now: dt.datetime | None = None) -> RollupStats:
    """Set the usage records of closed hours from the sources; returns how many rows exist.

    Rows are compared with what is stored: unchanged rows are not touched (their `updated_at`
    says when the quantity last changed, which is how late usage after a month was closed is
    found), changed ones are updated, missing ones created, stale ones removed. Consecutive
    hours are computed together, a span per transaction.
    """
    now = now or timezone.now()
    hours = sorted({hour_floor(h) for h in hours})
    for hour in hours:
        if hour + HOUR > now:
            raise ValueError(f"The hour {hour:%Y-%m-%d %H:00} UTC has not ended yet.")
    stats = RollupStats()
    for span in _spans(hours):
        stats.add(_write_span(span, compute_usage_by_hour(span[0], span[-1] + HOUR), now))
    return stats


def rollup_hour(hour_start: dt.datetime, *, now: dt.datetime | None = None) -> RollupStats:
    """Roll up one closed hour (see `rollup_hours`)."""
    return rollup_hours([hour_start], now=now)


def _spans(hours: list[dt.datetime], longest: int = 7 * 24) -> list[list[dt.datetime]]:
    spans: list[list[dt.datetime]] = []
    for hour in hours:
        if spans and hour - spans[-1][-1] == HOUR and len(spans[-1]) < longest:
            spans[-1].append(hour)
        else:
            spans.append([hour])
    return spans


def _write_span(span: list[dt.datetime], computed: HourlyUsage, now: dt.datetime) -> RollupStats:
    with transaction.atomic():
        # The marker rows are the lock: two roll-ups of the same hours run one after the other.
        RolledUpHour.objects.bulk_create(
            [RolledUpHour(hour_start=h, rolled_up_at=now) for h in span], ignore_conflicts=True
        )
        markers = list(
            RolledUpHour.objects.select_for_update().filter(hour_start__in=span).order_by("pk")
        )
        stored = {
            (r.hour_start, r.cluster_id, r.meter): r
            for r in UsageRecord.objects.filter(hour_start__gte=span[0], hour_start__lte=span[-1])
        }
        wanted = {
            (hour, cluster_id, meter): quantity
            for hour in span
            for (cluster_id, meter), quantity in computed.get(hour, {}).items()
        }
        created, changed = [], []
        for (hour, cluster_id, meter), quantity in wanted.items():
            record = stored.get((hour, cluster_id, meter))
            if record is None:
                created.append(
                    UsageRecord(
                        cluster_id=cluster_id,
                        meter=meter,
                        hour_start=hour,
                        quantity=quantity,
                        updated_at=now,
                    )
                )
            elif record.quantity != quantity:
                logger.info("usage of %s changed: %s → %s", record, record.quantity, quantity)
                record.quantity, record.updated_at = quantity, now
                changed.append(record)
        stale = [r.pk for key, r in stored.items() if key not in wanted]
        if stale:
            UsageRecord.objects.filter(pk__in=stale).delete()
        UsageRecord.objects.bulk_create(created, batch_size=5000)
        UsageRecord.objects.bulk_update(changed, ["quantity", "updated_at"], batch_size=5000)
        for marker in markers:
            marker.rolled_up_at = now
            marker.records = len(computed.get(marker.hour_start, {}))
        RolledUpHour.objects.bulk_update(markers, ["rolled_up_at", "records"])
    return RollupStats(len(wanted), len(created), len(changed), len(stale))


def first_billable_hour() -> dt.datetime | None:
    """The hour of the earliest activation: nothing before it can have usage."""
    first = cluster_first_activation()
    return hour_floor(first) if first else None


def pending_hours(
    now: dt.datetime,
    *,
    recheck_hours: int = 0,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dt.datetime]:
    """Closed hours never rolled up (within `[since, until)` if given), plus the last
    `recheck_hours` closed hours again."""
    first = first_billable_hour()
    if first is None:
        return []
    if since is not None:
        first = max(first, hour_floor(since))
    last_closed = hour_floor(now) - HOUR
    if until is not None:
        last_closed = min(last_closed, hour_floor(until - EPSILON))
    if last_closed < first:
        return []
    done = set(
        RolledUpHour.objects.filter(hour_start__gte=first, hour_start__lte=last_closed).values_list(
            "hour_start", flat=True
        )
    )
    hours = [h for h in hours_between(first, last_closed + HOUR) if h not in done]
    recheck = [last_closed - HOUR * i for i in range(recheck_hours)]
    return sorted(set(hours) | {h for h in recheck if h >= first})


def rollup_pending(
    now: dt.datetime | None = None, *, recheck_hours: int | None = None
) -> list[dt.datetime]:
    """Roll up every closed hour not yet rolled up (and recheck the most recent ones)."""
    now = now or timezone.now()
    if recheck_hours is None:
        recheck_hours = settings.SKIFF_BILLING_RECHECK_HOURS
    hours = pending_hours(now, recheck_hours=recheck_hours)
    rollup_hours(hours, now=now)
    return hours


def reconcile_recent_usage(
    now: dt.datetime | None = None, *, hours: int = 24
) -> tuple[list[dt.datetime], RollupStats]:
    """Recompute the last `hours` closed hours from the sources and repair what differs.

    The daily reconciliation: the hourly run rechecks only the last couple of hours, so rows the
    sampler wrote later than that (a restart that replayed minutes) are caught here. A change is
    logged as a warning: it means metering data arrived late.
    """
    now = now or timezone.now()
    last_closed = hour_floor(now) - HOUR
    first = first_billable_hour()
    window = [last_closed - HOUR * i for i in range(hours)]
    window = sorted(h for h in window if first is not None and h >= first)
    stats = rollup_hours(window, now=now)
    if stats.created or stats.changed or stats.removed:
        logger.warning(
            "reconciliation of %d hours repaired usage records: %d created, %d changed, %d removed",
            len(window),
            stats.created,
            stats.changed,
            stats.removed,
        )
    return window, stats
