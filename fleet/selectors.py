"""Fleet reads for the apps above it: the sampler's per-minute usage rows, and the fleet's
own reads for its pages, its API and placement (cell overviews, placement ranking).

This module is the usage-row contract between the fleet and billing: billing meters data in,
data out and storage from these functions only, never from `TopicMinuteUsage` itself.

What a row means (`MinuteUsageRow`): one topic of one cluster during one UTC minute
`[minute, minute + 60 s)`, written only by the sampler (fleet/services/sampler.py) and
re-written (never added twice) when the sampler replays a minute.

* `bytes_in`, `bytes_out` are DELTAS: the bytes the partition leaders counted during the minute
  (replication excluded). A sampling gap (a sampler restart) is carried by the next delta, so
  the sum of the rows of any span is the span's traffic. Sum them; never difference them.
* `storage_bytes` is a GAUGE: the size of one replica of the topic's log at the minute's last
  sample. A minute without a row has no sample (not an empty topic): a reader carries the last
  earlier sample forward. Summed over minutes, gauges give byte-minutes, nothing else.

All quantities are non-negative integers; minutes are aware UTC datetimes with zero seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from fleet import limits
from fleet.models import (
    AutoscaleDecision,
    Broker,
    Cell,
    ConnectWorker,
    FleetOperation,
    LegacyScramFailure,
    TopicMinuteUsage,
)
from fleet.tenancy import CellTenancy, tenant_directory

_ROW_FIELDS = ("cluster_id", "topic", "minute", "bytes_in", "bytes_out", "storage_bytes")
_CHUNK = 10_000


class MinuteUsageRow(NamedTuple):
    """One topic of one cluster during one UTC minute (see the module docstring).

    `bytes_in` and `bytes_out` are deltas of the minute; `storage_bytes` is a gauge.
    """

    cluster_id: int
    topic: str  # short name, without the cluster's wire prefix
    minute: dt.datetime
    bytes_in: int
    bytes_out: int
    storage_bytes: int


class TopicDayUsage(NamedTuple):
    """One topic of one cluster during one UTC day: the sums of its minute rows.

    `bytes_in` and `bytes_out` are the day's traffic (sums of deltas); `storage_byte_minutes`
    is the sum of the day's storage gauges, one per sampled minute (not a size).
    """

    topic: str
    day: dt.datetime  # 00:00 UTC of the day
    bytes_in: int
    bytes_out: int
    storage_byte_minutes: int


def minute_usage_rows(
    *,
    start: dt.datetime,
    end: dt.datetime,
    cluster_ids: Iterable[int] | None = None,
    traffic_only: bool = False,
) -> Iterator[MinuteUsageRow]:
    """The rows of the minutes in `[start, end)`, streamed, oldest minute first (then by topic).

    `cluster_ids`: only these clusters (None: every cluster). `traffic_only`: only rows that
    moved data (`bytes_in` or `bytes_out` above zero), for readers of the deltas alone.
    """
    rows = TopicMinuteUsage.objects.filter(minute__gte=start, minute__lt=end)
    if cluster_ids is not None:
        rows = rows.filter(cluster_id__in=list(cluster_ids))
    if traffic_only:
        rows = rows.filter(Q(bytes_in__gt=0) | Q(bytes_out__gt=0))
    for values in (
        rows.order_by("minute", "topic").values_list(*_ROW_FIELDS).iterator(chunk_size=_CHUNK)
    ):
        yield MinuteUsageRow._make(values)


def minute_usage_latest(
    *, cluster_ids: Iterable[int], before: dt.datetime, since: dt.datetime
) -> list[MinuteUsageRow]:
    """Each topic's last row in `[since, before)`: the gauge a reader carries into `before`.

    Topics without a row in that window are left out (their last sample is too old to carry).
    """
    ids = list(cluster_ids)
    last = (
        TopicMinuteUsage.objects.filter(cluster_id__in=ids, minute__lt=before, minute__gte=since)
        .values("cluster_id", "topic")
        .annotate(last=Max("minute"))
    )
    wanted = {(r["cluster_id"], r["topic"], r["last"]) for r in last}
    if not wanted:
        return []
    candidates = TopicMinuteUsage.objects.filter(
        cluster_id__in={w[0] for w in wanted}, minute__in={w[2] for w in wanted}
    ).values_list(*_ROW_FIELDS)
    rows = (MinuteUsageRow._make(values) for values in candidates)
    return [row for row in rows if (row.cluster_id, row.topic, row.minute) in wanted]


def topic_day_usage(
    *, cluster_id: int, start: dt.datetime, end: dt.datetime
) -> list[TopicDayUsage]:
    """Per topic and UTC day, the sums of one cluster's rows of the minutes in `[start, end)`."""
    rows = (
        TopicMinuteUsage.objects.filter(cluster_id=cluster_id, minute__gte=start, minute__lt=end)
        .annotate(day=TruncDay("minute", tzinfo=dt.UTC))
        .values("topic", "day")
        .annotate(i=Sum("bytes_in"), o=Sum("bytes_out"), s=Sum("storage_bytes"))
        .order_by("topic", "day")
        .values_list("topic", "day", "i", "o", "s")
    )
    return [
        TopicDayUsage(topic, day, bytes_in or 0, bytes_out or 0, storage or 0)
        for topic, day, bytes_in, bytes_out, storage in rows
    ]


def cell_partition_budget(cell: Cell, *, brokers: int | None = None) -> int:
    """Partition replicas the cell can host: its brokers x SKIFF_PARTITIONS_PER_BROKER.

    The budget per broker is what a broker's heap carries with room to spare (issue 13,
    README "Sizing a cell"); placement and topic creation admit work within it. ``brokers``
    (the serving brokers, already counted by the caller) spares counting them again.
    """
    # A broker retired by a fleet operation (unregistered) carries nothing any more.
    if brokers is None:
        brokers = _serving_brokers(cell)
    return cell_partition_budget_for(brokers)


def cell_partition_budget_for(serving_brokers: int) -> int:
    """`cell_partition_budget` of a cell with this many serving brokers."""
    # A cell whose brokers are not recorded (yet) counts as one: it has at least that.
    return max(1, serving_brokers) * settings.SKIFF_PARTITIONS_PER_BROKER


def _serving_brokers(cell: Cell) -> int:
    return cell.brokers.exclude(state=Broker.State.UNREGISTERED).count()


# --- the fleet pages, the fleet API and placement (issue 14) ----------------------------------

# Placement and the pages read the sampler's rows of this window for a cell's ingress and the
# bytes its tenants store.
LOAD_WINDOW = dt.timedelta(minutes=15)
# Room a cell must have left to take a new cluster: one topic of the default size
# (clusters/services/capacity.py NEW_CLUSTER_PARTITIONS says the same to the wizard).
NEW_CLUSTER_PARTITIONS = 6


@dataclass(frozen=True)
class CellLoad:
    """What a cell's tenants hold and send, from the database alone (no Kafka call)."""

    tenancy: CellTenancy
    brokers: int  # brokers that serve (not unregistered)
    replication_factor: int
    budget_replicas: int  # cell_partition_budget
    stored_bytes: int  # one replica of every tenant topic, the sampler's latest gauges
    ingress_bytes_per_second: float  # mean over LOAD_WINDOW, leaders only

    @property
    def capacity_partitions(self) -> int:
        """Partitions (at the cell's replication factor) the budget holds."""
        return self.budget_replicas // self.replication_factor

    @property
    def free_partitions(self) -> int:
        return max(self.budget_replicas - self.tenancy.replicas, 0) // self.replication_factor

    @property
    def used_fraction(self) -> float:
        return self.tenancy.replicas / self.budget_replicas if self.budget_replicas else 1.0


@dataclass(frozen=True)
class PlacementCandidate:
    """One cell as placement sees it: whether it may take a new cluster, and why (not)."""

    cell: Cell
    load: CellLoad
    eligible: bool
    reason: str
    rank: int = 0  # 1 = where the next cluster goes; 0 for a cell that takes none


def cell_loads(
    cells: list[Cell], *, now: dt.datetime | None = None, usage: bool = True
) -> dict[int, CellLoad]:
    """Per cell: tenant clusters, partitions and replicas, the budget, stored bytes, ingress.

    ``usage=False`` leaves stored bytes and ingress at 0 and skips the only read here that
    grows with the cell's topics: for callers that need the partition room alone.
    """
    ids = {cell.pk for cell in cells}
    if not ids:
        return {}
    now = now or timezone.now()
    tenancy = tenant_directory().cell_tenancy(cell_ids=ids)
    ingress, stored = _cell_usage(ids, now) if usage else ({}, {})
    out = {}
    for cell in cells:
        brokers = _serving_brokers(cell)
        out[cell.pk] = CellLoad(
            tenancy=tenancy.get(cell.pk, CellTenancy(0, 0, 0)),
            brokers=brokers,
            replication_factor=limits.cell_replication_factor(brokers),
            budget_replicas=cell_partition_budget(cell, brokers=brokers),
            stored_bytes=stored.get(cell.pk, 0),
            ingress_bytes_per_second=ingress.get(cell.pk, 0) / LOAD_WINDOW.total_seconds(),
        )
    return out


def _cell_usage(ids: set[int], now: dt.datetime) -> tuple[dict[int, int], dict[int, int]]:
    """(bytes in over LOAD_WINDOW, bytes stored by the newest gauges) per cell."""
    since = now - LOAD_WINDOW
    # Summed in the database, one row per cell: placement runs this for every new cluster, and
    # the window holds a row per topic per minute (75,000 at 1,000 clusters of 5 topics), which
    # read into Python made a create slower as the cell filled (issue 20, bench/density.py).
    window = TopicMinuteUsage.objects.filter(
        cluster__cell_id__in=ids, minute__gte=since, minute__lt=now
    )
    ingress: dict[int, int] = dict(
        window.values("cluster__cell_id")
        .annotate(total=Sum("bytes_in"))
        .values_list("cluster__cell_id", "total")
    )
    # Each topic's newest gauge in the window (an index seek on cluster, topic, minute).
    newest = (
        TopicMinuteUsage.objects.filter(
            cluster=OuterRef("cluster"), topic=OuterRef("topic"), minute__gte=since, minute__lt=now
        )
        .order_by("-minute")
        .values("minute")[:1]
    )
    stored: dict[int, int] = dict(
        window.filter(minute=Subquery(newest))
        .values("cluster__cell_id")
        .annotate(total=Sum("storage_bytes"))
        .values_list("cluster__cell_id", "total")
    )
    return ingress, stored


def placement_candidates(
    *, now: dt.datetime | None = None, usage: bool | None = True
) -> list[PlacementCandidate]:
    """Every cell, the one a new serverless cluster goes to first (rank 1).

    A cell takes new clusters when it is healthy, open (admission) and has room for one
    default topic under its partition budget. Among those, the most headroom wins:
    free partitions first, then the fewest bytes stored, then the least ingress, then the
    oldest cell. A cluster placed stays on its cell; this ranking only places new ones.

    ``usage`` (stored bytes and ingress, see cell_loads): True for the pages; None reads them
    only when more than one cell could take the cluster, the only case where they rank
    anything (placement); False never (the capacity check needs the partition room alone).
    Every create runs this twice, and the usage rows grow with the cell's topics (issue 20).
    """
    cells = list(Cell.objects.order_by("pk"))
    if usage is None:
        healthy = [c for c in cells if c.state == Cell.State.HEALTHY]
        usage = sum(1 for c in healthy if c.admission == Cell.Admission.OPEN) > 1
    loads = cell_loads(cells, now=now, usage=usage)
    candidates = []
    for cell in cells:
        load = loads[cell.pk]
        if cell.state != Cell.State.HEALTHY:
            reason = f"not healthy ({cell.get_state_display().lower()})"
        elif cell.admission != Cell.Admission.OPEN:
            reason = f"admission is {cell.admission}"
        elif load.free_partitions < NEW_CLUSTER_PARTITIONS:
            reason = (
                f"at its partition capacity ({load.free_partitions:,} of "
                f"{load.capacity_partitions:,} partitions free)"
            )
        else:
            reason = ""
        candidates.append(
            PlacementCandidate(cell=cell, load=load, eligible=not reason, reason=reason)
        )

    def headroom(c: PlacementCandidate) -> tuple:
        return (
            -c.load.free_partitions,
            c.load.stored_bytes,
            c.load.ingress_bytes_per_second,
            c.cell.pk,
        )

    eligible = sorted((c for c in candidates if c.eligible), key=headroom)
    ranked = [
        PlacementCandidate(
            cell=c.cell,
            load=c.load,
            eligible=True,
            rank=i,
            reason=(
                f"{c.load.free_partitions:,} of {c.load.capacity_partitions:,} partitions free, "
                f"{c.load.stored_bytes:,} bytes stored, "
                f"{c.load.ingress_bytes_per_second:,.0f} B/s in"
            ),
        )
        for i, c in enumerate(eligible, start=1)
    ]
    return ranked + [c for c in candidates if not c.eligible]


def placement_cell() -> Cell | None:
    """The cell a new serverless cluster goes to now, or None when no cell takes one."""
    for candidate in placement_candidates():
        if candidate.eligible:
            return candidate.cell
    return None


def cell_list() -> QuerySet[Cell]:
    return Cell.objects.order_by("name")


def cell_operations(cell: Cell, *, limit: int = 20) -> list[FleetOperation]:
    return list(cell.operations.order_by("-created_at", "-id")[:limit])


def cell_active_operation(cell: Cell) -> FleetOperation | None:
    return cell.operations.filter(state__in=FleetOperation.ACTIVE_STATES).first()


def cell_autoscale_decisions(cell: Cell, *, limit: int = 20) -> list[AutoscaleDecision]:
    return list(cell.autoscale_decisions.order_by("-decided_at", "-id")[:limit])


def cell_connect_workers(cell: Cell) -> list[ConnectWorker]:
    """The Kafka Connect workers of tenant clusters on a cell (issue 19), running ones first."""
    order: dict[str, int] = {ConnectWorker.State.RUNNING: 0, ConnectWorker.State.STARTING: 1}
    workers = list(ConnectWorker.objects.filter(cell=cell))
    return sorted(workers, key=lambda w: (order.get(w.state, 2), w.tenant_prefix))


def operation_list(*, cell: Cell | None = None) -> QuerySet[FleetOperation]:
    operations = FleetOperation.objects.select_related("cell").order_by("-created_at", "-id")
    return operations.filter(cell=cell) if cell is not None else operations


def legacy_scram_failure(*, cell_id: int | None, username: str) -> LegacyScramFailure | None:
    """The last SCRAM login of `username` on the cell that failed with librdkafka's doubled
    nonce (librdkafka < 2.6.1), if the brokers saw one (fleet/services/legacy_clients.py)."""
    if cell_id is None:
        return None
    return LegacyScramFailure.objects.filter(cell_id=cell_id, username=username).first()
