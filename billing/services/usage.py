"""Month-to-date usage and cost of a team (the Usage page and API), and topic chargeback.

Month to date means up to `as_of` (default: now): closed hours from usage records, the open
hour from the sampler's per-minute rows — the same `collect_lines` a draft invoice is built
from, so the page and a draft recomputed at the same instant agree to the cent. Clusters and
per-minute rows are read through `clusters.selectors` and `fleet.selectors`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Model, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from billing.models import Meter, UsageRecord
from billing.periods import HOUR, month_bounds
from billing.services.invoices import (
    CENT,
    ZERO,
    Line,
    billing_quantity,
    collect_lines,
    usage_totals,
)
from billing.services.price_book import PriceBook
from billing.services.rollup import GIB, HourlyUsage, usage_not_rolled_up
from clusters.selectors import cluster_owners
from console.models import Team
from fleet.selectors import topic_day_usage

FORECAST_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class ClusterCost:
    cluster_id: int | None
    cluster_name: str
    lines: list[Line]
    total: Decimal


@dataclass(frozen=True)
class MonthUsage:
    period: dt.date
    as_of: dt.datetime
    clusters: list[ClusterCost]
    lines: list[Line]
    total: Decimal
    forecast: Decimal
    daily: list[tuple[dt.date, Decimal]]


@dataclass(frozen=True)
class TopicUsage:
    topic: str
    data_in_gib: Decimal
    data_out_gib: Decimal
    storage_gib_hours: Decimal
    data_in_cost: Decimal
    data_out_cost: Decimal
    storage_cost: Decimal
    total: Decimal


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _priced(totals, book: PriceBook, period: dt.date) -> Decimal:
    """Unrounded cost of usage totals (for charts and run rates, not for invoices)."""
    versions = book.by_pk
    return sum(
        (
            billing_quantity(meter, quantity, period) * versions[version_id].unit_price
            for (_cluster, meter, version_id), quantity in totals.items()
        ),
        ZERO,
    )


# The forecast, meter by meter (FORECAST_HOW is what the usage page says):
# - cluster-hours, partition-hours and storage run on at their level now: the clusters,
#   partitions and stored bytes of the last full hour (NOW_WINDOW), held to the month's end;
# - data in and out go on at their recent rate: the last FORECAST_WINDOW (or the month so far).
LEVEL_METERS = (
    Meter.CLUSTER_HOURS,
    Meter.PARTITION_HOURS,
    Meter.STORAGE,
    Meter.CONNECTOR_HOURS,
)
NOW_WINDOW = dt.timedelta(hours=1)
FORECAST_HOW = (
    "Month to date, plus what runs now held to the month's end: the last hour's clusters, "
    "partitions, stored bytes and connector tasks, and data in and out at the rate of the "
    "last 24 hours"
)


def _rest_of_month(
    cluster_ids: list[int], as_of: dt.datetime, end: dt.datetime, book: PriceBook, period
) -> Decimal:
    """Unrounded cost from `as_of` to `end` if what runs now runs on (see FORECAST_HOW)."""
    start = month_bounds(period)[0]
    remaining = Decimal((end - as_of) / HOUR)

    def per_hour(window: dt.timedelta, meters) -> Decimal:
        # Usage is kept per UTC hour: windows end at the last full hour (or now, in the first).
        window_end = as_of.replace(minute=0, second=0, microsecond=0)
        if window_end <= start:
            window_end = as_of
        window_start = max(start, window_end - window)
        hours = Decimal((window_end - window_start) / HOUR)
        if hours <= 0:
            return ZERO
        totals = usage_totals(window_start, window_end, book, cluster_ids=cluster_ids)
        chosen = {key: q for key, q in totals.items() if key[1] in meters}
        return _priced(chosen, book, period) / hours

    level = per_hour(NOW_WINDOW, LEVEL_METERS)
    traffic = per_hour(FORECAST_WINDOW, (Meter.DATA_IN, Meter.DATA_OUT))
    return (level + traffic) * remaining


def month_usage(team: Team, period: dt.date, *, as_of: dt.datetime | None = None) -> MonthUsage:
    start, end = month_bounds(period)
    as_of = min(as_of or timezone.now(), end)
    book = PriceBook.load()
    cluster_ids = list(cluster_owners(team_ids=[team.pk]))
    # The hours not rolled up yet (the open one) from the sources, once for lines and chart.
    unrolled = usage_not_rolled_up(start, as_of, cluster_ids)
    lines = collect_lines(
        period, as_of=as_of, team_ids=[team.pk], book=book, unrolled=unrolled
    ).get(team.pk, [])
    by_cluster: dict[int | None, list[Line]] = defaultdict(list)
    for line in lines:
        by_cluster[line.cluster_id].append(line)
    clusters = [
        ClusterCost(
            cluster_id=cluster_id,
            cluster_name=cluster_lines[0].cluster_name,
            lines=cluster_lines,
            total=sum((line.amount for line in cluster_lines), ZERO),
        )
        for cluster_id, cluster_lines in by_cluster.items()
    ]
    total = sum((line.amount for line in lines), ZERO)

    forecast = total
    if as_of > start and as_of < end:
        forecast = _cents(total + _rest_of_month(cluster_ids, as_of, end, book, period))

    return MonthUsage(
        period=period,
        as_of=as_of,
        clusters=sorted(clusters, key=lambda c: (c.cluster_name, c.cluster_id or 0)),
        lines=lines,
        total=total,
        forecast=forecast,
        daily=_daily_cost(cluster_ids, period, as_of, book, unrolled),
    )


def _daily_cost(
    cluster_ids: list[int],
    period: dt.date,
    as_of: dt.datetime,
    book: PriceBook,
    unrolled: HourlyUsage,
) -> list[tuple[dt.date, Decimal]]:
    """Cost per UTC day of the month so far (prices change at midnight, so a day has one)."""
    start, _end = month_bounds(period)
    costs: dict[dt.date, Decimal] = defaultdict(Decimal)
    rows = (
        UsageRecord.objects.filter(
            cluster_id__in=cluster_ids, hour_start__gte=start, hour_start__lt=as_of
        )
        .annotate(day=TruncDay("hour_start", tzinfo=dt.UTC))
        .values("day", "meter")
        .annotate(q=Sum("quantity"))
        .values_list("day", "meter", "q")
    )
    for day, meter, quantity in rows:
        price = book.at(meter, day).unit_price
        costs[day.date()] += billing_quantity(meter, quantity, period) * price
    # The open hour (and any hour not rolled up yet) is not in the records: from the sources.
    for hour, usage in unrolled.items():
        for (_cluster, meter), quantity in usage.items():
            price = book.at(meter, hour).unit_price
            costs[hour.date()] += billing_quantity(meter, quantity, period) * price
    days, day = [], start.date()
    while day <= (as_of - dt.timedelta(microseconds=1)).date():
        days.append((day, _cents(costs.get(day, ZERO))))
        day += dt.timedelta(days=1)
    return days


def topic_usage(
    cluster: Model, period: dt.date, *, as_of: dt.datetime | None = None
) -> list[TopicUsage]:
    """Chargeback: each topic's data in/out and its share of the cluster's storage.

    Data is summed from the per-minute rows and priced per UTC day (prices change at
    midnight). Storage is the cluster's metered GiB-hours, and their cost at the prices of the
    hours they were used in, split by each topic's share of the sampled byte-minutes, so the
    topics add up to what is invoiced.
    """
    start, end = month_bounds(period)
    as_of = min(as_of or timezone.now(), end)
    book = PriceBook.load()
    by_topic: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in topic_day_usage(cluster_id=cluster.pk, start=start, end=as_of):
        sums = by_topic[row.topic]
        data_in, data_out = Decimal(row.bytes_in) / GIB, Decimal(row.bytes_out) / GIB
        sums["in"] += data_in
        sums["out"] += data_out
        sums["in_cost"] += data_in * book.at(Meter.DATA_IN, row.day).unit_price
        sums["out_cost"] += data_out * book.at(Meter.DATA_OUT, row.day).unit_price
        sums["byte_minutes"] += row.storage_byte_minutes
    totals = usage_totals(start, as_of, book, cluster_ids=[cluster.pk])
    storage = {key: q for key, q in totals.items() if key[1] == Meter.STORAGE}
    storage_gib_hours = sum(storage.values(), ZERO)
    storage_cost = _priced(storage, book, period)
    byte_minutes = sum(sums["byte_minutes"] for sums in by_topic.values())
    result = []
    for topic, sums in by_topic.items():
        share = sums["byte_minutes"] / byte_minutes if byte_minutes else ZERO
        in_cost, out_cost = _cents(sums["in_cost"]), _cents(sums["out_cost"])
        topic_storage_cost = _cents(storage_cost * share)
        result.append(
            TopicUsage(
                topic=topic,
                data_in_gib=sums["in"].quantize(Decimal("0.000001")),
                data_out_gib=sums["out"].quantize(Decimal("0.000001")),
                storage_gib_hours=(storage_gib_hours * share).quantize(Decimal("0.000001")),
                data_in_cost=in_cost,
                data_out_cost=out_cost,
                storage_cost=topic_storage_cost,
                total=in_cost + out_cost + topic_storage_cost,
            )
        )
    return sorted(result, key=lambda t: (-t.total, t.topic))
