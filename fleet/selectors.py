"""Fleet reads for the apps above it: the sampler's per-minute usage rows.

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
from typing import NamedTuple

from django.conf import settings
from django.db.models import Max, Q, Sum
from django.db.models.functions import TruncDay

from fleet.models import Cell, TopicMinuteUsage

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


def cell_partition_budget(cell: Cell) -> int:
    """Partition replicas the cell can host: its brokers x SKIFF_PARTITIONS_PER_BROKER.

    The budget per broker is what a broker's heap carries with room to spare (issue 13,
    README "Sizing a cell"); placement and topic creation admit work within it.
    """
    # A cell whose brokers are not recorded (yet) counts as one: it has at least that.
    return max(1, cell.brokers.count()) * settings.SKIFF_PARTITIONS_PER_BROKER
