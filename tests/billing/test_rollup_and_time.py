"""The hourly roll-up and billing periods against a frozen clock: month ends, leap day, 31 days."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import Invoice, RolledUpHour, UsageRecord
from billing.periods import hours_in_month, parse_month
from billing.services.invoices import BillingError, close_month, recompute_draft
from billing.services.rollup import rollup_hour, rollup_pending
from billing.services.usage import month_usage
from tests.billing.sources import GIB, at, billed_cluster, minute_row, partitions

pytestmark = pytest.mark.django_db


def quantities(cluster, meter):
    return {
        r.hour_start: r.quantity
        for r in UsageRecord.objects.filter(cluster=cluster, meter=meter).order_by("hour_start")
    }


def test_a_cluster_from_10_30_to_12_15_bills_1_75_cluster_hours():
    cluster = billed_cluster("2026-11-02 10:30", "2026-11-02 12:15")
    with time_machine.travel(at("2026-11-02 13:05"), tick=False):
        rolled = rollup_pending()
    assert at("2026-11-02 10:00") in rolled and at("2026-11-02 12:00") in rolled
    hours = quantities(cluster, "cluster_hours")
    assert hours == {
        at("2026-11-02 10:00"): Decimal("0.5"),
        at("2026-11-02 11:00"): Decimal("1"),
        at("2026-11-02 12:00"): Decimal("0.25"),
    }
    assert sum(hours.values()) == Decimal("1.75")


def test_seconds_count_and_a_never_activated_cluster_bills_nothing():
    cluster = billed_cluster("2026-11-02 10:00:00", "2026-11-02 10:00:36")
    from tests.factories import ClusterFactory

    ClusterFactory(state="failed")  # requested, never activated
    rollup_hour(at("2026-11-02 10:00"), now=at("2026-11-02 11:00"))
    assert list(UsageRecord.objects.values_list("cluster_id", "meter", "quantity")) == [
        (cluster.pk, "cluster_hours", Decimal("0.01"))
    ]


def test_an_open_hour_cannot_be_rolled_up_and_the_command_says_so():
    with pytest.raises(ValueError, match="has not ended"):
        rollup_hour(at("2026-11-02 10:00"), now=at("2026-11-02 10:59"))
    with time_machine.travel(at("2026-11-02 10:30"), tick=False), pytest.raises(CommandError):
        call_command("rollup_usage", "--hour", "2026-11-02T10:00")
    with pytest.raises(CommandError, match="ISO"):
        call_command("rollup_usage", "--hour", "yesterday")
    assert not UsageRecord.objects.exists() and not RolledUpHour.objects.exists()


def test_rerunning_an_hour_gives_the_same_rows_and_late_rows_update_them():
    cluster = billed_cluster("2026-11-02 09:00")
    partitions(cluster, "t", "2026-11-02 09:00", 3)
    minute_row(cluster, "t", "2026-11-02 10:05", bytes_in=GIB, storage=2 * GIB)
    now = at("2026-11-02 12:00")
    rollup_hour(at("2026-11-02 10:00"), now=now)
    first = list(UsageRecord.objects.values_list("meter", "quantity", "updated_at"))
    rollup_hour(at("2026-11-02 10:00"), now=now + dt.timedelta(minutes=5))
    assert list(UsageRecord.objects.values_list("meter", "quantity", "updated_at")) == first
    # A row the sampler wrote late (its restart replayed the minute): set, not added.
    minute_row(cluster, "t", "2026-11-02 10:05", bytes_in=2 * GIB, storage=2 * GIB)
    rollup_hour(at("2026-11-02 10:00"), now=now + dt.timedelta(minutes=10))
    assert quantities(cluster, "data_in") == {at("2026-11-02 10:00"): Decimal(2)}
    assert UsageRecord.objects.filter(meter="data_in").get().updated_at == now + dt.timedelta(
        minutes=10
    )
    assert UsageRecord.objects.filter(meter="partition_hours").get().updated_at == now


def test_storage_is_carried_through_a_sampler_gap_and_stops_when_the_topic_goes():
    cluster = billed_cluster("2026-11-02 00:00")
    partitions(cluster, "t", "2026-11-02 00:00", 1)
    minute_row(cluster, "t", "2026-11-02 00:00", storage=6 * GIB)
    # No sample at all for hours 01-02 (sampler down); 03:30 the topic is deleted.
    partitions(cluster, "t", "2026-11-02 03:30", 0)
    for hour in range(5):
        rollup_hour(at(f"2026-11-02 0{hour}:00"), now=at("2026-11-02 06:00"))
    assert quantities(cluster, "storage") == {
        at("2026-11-02 00:00"): Decimal(6),
        at("2026-11-02 01:00"): Decimal(6),
        at("2026-11-02 02:00"): Decimal(6),
        at("2026-11-02 03:00"): Decimal(3),
    }
    assert quantities(cluster, "partition_hours") == {
        at(f"2026-11-02 0{h}:00"): Decimal(1) for h in range(3)
    } | {at("2026-11-02 03:00"): Decimal("0.5")}


def test_hours_of_months_including_a_leap_february():
    assert hours_in_month(parse_month("2028-02")) == 696
    assert hours_in_month(parse_month("2026-02")) == 672
    assert hours_in_month(parse_month("2026-10")) == 744
    assert hours_in_month(parse_month("2026-11")) == 720
    for bad in ["2026-13", "26-11", "2026-1", "", "november"]:
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


@pytest.mark.usefixtures("cluster_hour_floor")
def test_a_cluster_across_the_leap_day_month_end_is_split_between_invoices():
    """Feb 28 2028 22:00 → Mar 1 02:00: 26 h in February (29 days), 2 h in March."""
    cluster = billed_cluster("2028-02-28 22:00", "2028-03-01 02:00")
    partitions(cluster, "t", "2028-02-28 22:00", 2)
    minute_row(cluster, "t", "2028-02-29 12:00", storage=696 * GIB)
    close_month(parse_month("2028-02"), now=at("2028-03-01 01:00"))
    feb = Invoice.objects.get(period=parse_month("2028-02"))
    by_meter = {line.meter: line for line in feb.lines.all()}
    assert by_meter["cluster_hours"].quantity == Decimal("26.000000")
    assert by_meter["partition_hours"].quantity == Decimal("52.000000")
    # 696 GiB from Feb 29 12:00 to the month's end (12 h) = 8352 GiB-h ÷ 696 h = 12 GiB-month.
    assert by_meter["storage"].quantity == Decimal("12.000000")
    assert feb.subtotal == Decimal("19.50") + Decimal("0.08") + Decimal("1.20")

    with time_machine.travel(at("2028-03-01 05:00"), tick=False):
        rollup_pending()
        march = recompute_draft(cluster.team, parse_month("2028-03"))
    by_meter = {line.meter: line for line in march.lines.all()}
    assert by_meter["cluster_hours"].quantity == Decimal("2.000000")
    # 696 GiB for 2 h of a 744-hour month.
    assert by_meter["storage"].quantity == Decimal("1.870968")
    assert march.status == Invoice.Status.DRAFT and march.number is None


@pytest.mark.usefixtures("cluster_hour_floor")
def test_a_31_day_month_and_the_close_waits_for_the_grace_period():
    cluster = billed_cluster("2026-12-01 00:00")
    with pytest.raises(BillingError, match="2027-01-01 01:00"):
        close_month(parse_month("2026-12"), now=at("2027-01-01 00:59"))
    assert not Invoice.objects.exists()
    with time_machine.travel(at("2027-01-01 01:00"), tick=False):
        call_command("close_month", "2026-12")
    invoice = Invoice.objects.get(team=cluster.team)
    assert invoice.lines.get(meter="cluster_hours").quantity == Decimal("744.000000")
    assert invoice.subtotal == Decimal("558.00")
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("close_month", "2026-1")


def test_month_to_date_counts_the_open_hour_and_matches_a_draft_recomputed_now():
    cluster = billed_cluster("2026-11-03 00:00")
    partitions(cluster, "t", "2026-11-03 00:00", 4)
    minute_row(cluster, "t", "2026-11-03 00:10", bytes_in=3 * GIB, storage=GIB)
    minute_row(cluster, "t", "2026-11-03 02:20", bytes_in=GIB, bytes_out=4 * GIB, storage=GIB)
    now = at("2026-11-03 02:30")
    rollup_hour(at("2026-11-03 00:00"), now=now)  # hour 01 not rolled up yet, 02 is open
    with time_machine.travel(now, tick=False):
        usage = month_usage(cluster.team, parse_month("2026-11"))
        draft = recompute_draft(cluster.team, parse_month("2026-11"))
    lines = {line.meter: line for line in usage.lines}
    assert lines["cluster_hours"].quantity == Decimal("2.500000")
    assert lines["partition_hours"].quantity == Decimal("10.000000")
    assert lines["data_in"].quantity == Decimal("4.000000")
    assert lines["data_out"].quantity == Decimal("4.000000")
    assert draft.subtotal == usage.total
    assert [(line.meter, line.amount) for line in draft.lines.all()] == [
        (line.meter, line.amount) for line in usage.lines
    ]
    assert usage.daily[-1][0] == dt.date(2026, 11, 3) and usage.daily[-1][1] > 0
    assert usage.forecast > usage.total


def test_the_daily_reconciliation_repairs_hours_the_hourly_recheck_no_longer_covers(caplog):
    from billing.services.rollup import reconcile_recent_usage

    cluster = billed_cluster("2026-11-02 00:00")
    now = at("2026-11-02 20:30")
    rollup_pending(now)
    assert not UsageRecord.objects.filter(meter="data_in").exists()
    # A sampler that restarted replays a minute of 09:00, eleven hours ago.
    minute_row(cluster, "t", "2026-11-02 09:41", bytes_in=5 * GIB)
    assert rollup_pending(now + dt.timedelta(minutes=10)) == [
        at("2026-11-02 18:00"),
        at("2026-11-02 19:00"),
    ]
    assert not UsageRecord.objects.filter(meter="data_in").exists()

    hours, stats = reconcile_recent_usage(now + dt.timedelta(minutes=20))
    assert len(hours) == 20  # 00:00 … 19:00: the cluster did not exist before
    assert (stats.created, stats.changed, stats.removed) == (1, 0, 0)
    assert quantities(cluster, "data_in") == {at("2026-11-02 09:00"): Decimal(5)}
    assert "repaired usage records: 1 created" in caplog.text
    _hours, again = reconcile_recent_usage(now + dt.timedelta(minutes=25))
    assert (again.created, again.changed, again.removed) == (0, 0, 0)


@pytest.mark.usefixtures("cluster_hour_floor")
def test_the_forecast_holds_what_runs_now_to_the_month_end_meter_by_meter():
    """Issue 16: a cluster created today was forecast at the run rate of the last 24 hours.
    Now: the last hour's clusters, partitions and stored bytes, held to the month's end;
    data in and out at the rate of the last 24 hours. Money in Decimal."""
    from billing.services.usage import FORECAST_HOW

    cluster = billed_cluster("2026-11-10 12:00", name="today")
    partitions(cluster, "events", "2026-11-10 12:00", 10)
    minute_row(cluster, "events", "2026-11-10 12:30", bytes_in=3 * GIB, storage=20 * GIB)
    as_of = at("2026-11-10 13:00")
    with time_machine.travel(as_of, tick=False):
        usage = month_usage(cluster.team, parse_month("2026-11"))

    remaining = Decimal((at("2026-12-01 00:00") - as_of).total_seconds()) / Decimal(3600)
    assert remaining == Decimal(491)
    hours_in_november = Decimal(hours_in_month(parse_month("2026-11")))
    rest = (
        Decimal("0.75") * remaining  # one cluster, from now on
        + Decimal("0.0015") * 10 * remaining  # ten partitions
        # 20 GiB from 12:30: the last hour held 10 GiB on average, priced per GiB-month
        + Decimal("0.10") * 10 * remaining / hours_in_november
        # 3 GiB in over the last 24 hours: 1/8 GiB an hour from now on
        + Decimal("0.10") * 3 / 24 * remaining
    )
    expected = (usage.total + rest).quantize(Decimal("0.01"))
    assert isinstance(usage.forecast, Decimal)
    assert usage.forecast == expected, (usage.forecast, expected)
    # Not the old day's run rate: that spread one busy hour over 24.
    assert "what runs now" in FORECAST_HOW
