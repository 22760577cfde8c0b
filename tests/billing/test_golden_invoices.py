"""Golden invoices: every line written out by hand, from the metering sources to the total."""

from decimal import Decimal

import pytest

from billing.errors import PriceBookEmptyError
from billing.models import Invoice, PriceVersion
from billing.periods import parse_month
from billing.services.invoices import close_month
from billing.services.price_book import DEFAULT_PRICES, price_book_seed_defaults
from tests.billing.sources import GIB, at, billed_cluster, minute_row, partitions

pytestmark = pytest.mark.django_db


def lines_of(invoice):
    return [
        (line.description, line.quantity, line.unit, line.unit_price, line.amount)
        for line in invoice.lines.order_by("position")
    ]


@pytest.mark.usefixtures("cluster_hour_floor")
def test_a_whole_30_day_month_at_msk_serverless_prices():
    """720 h, 50 partitions, 100 GiB in, 200 GiB out, 50 GiB stored throughout = $619.00."""
    cluster = billed_cluster("2026-11-01 00:00", name="orders")
    partitions(cluster, "events", "2026-11-01 00:00", 50)
    # The sampler's rows: traffic on the first day, a storage sample every day.
    for day in range(1, 31):
        minute_row(
            cluster,
            "events",
            f"2026-11-{day:02d} 00:00",
            bytes_in=100 * GIB if day == 1 else 0,
            bytes_out=200 * GIB if day == 1 else 0,
            storage=50 * GIB,
        )

    result = close_month(parse_month("2026-11"), now=at("2026-12-01 02:00"))

    assert result.finalized == 1
    invoice = Invoice.objects.get(team=cluster.team, period=parse_month("2026-11"))
    assert lines_of(invoice) == [
        (
            "orders · Cluster-hours",
            Decimal("720.000000"),
            "hour",
            Decimal("0.75"),
            Decimal("540.00"),
        ),
        (
            "orders · Partition-hours",
            Decimal("36000.000000"),
            "partition-hour",
            Decimal("0.0015"),
            Decimal("54.00"),
        ),
        ("orders · Storage", Decimal("50.000000"), "GiB-month", Decimal("0.10"), Decimal("5.00")),
        ("orders · Data in", Decimal("100.000000"), "GiB", Decimal("0.10"), Decimal("10.00")),
        ("orders · Data out", Decimal("200.000000"), "GiB", Decimal("0.05"), Decimal("10.00")),
    ]
    assert invoice.subtotal == Decimal("619.00")
    assert invoice.currency == "USD"
    assert invoice.status == Invoice.Status.FINALIZED
    assert invoice.number == "SKF-2026-000001"
    # The storage is metered in GiB-hours: 50 GiB x 720 h.
    november = cluster.usage_records.filter(meter="storage", hour_start__lt=at("2026-12-01 00:00"))
    assert november.count() == 720
    assert sum(r.quantity for r in november) == 36000


@pytest.mark.usefixtures("cluster_hour_floor")
def test_mid_month_create_and_delete_with_a_price_change():
    """October (744 h): cluster 10th 06:30 → 20th 18:15; cluster-hour price 0.80 from the 15th.

    cluster-hours   113.5 h at 0.75 (10th 06:30 → 15th 00:00) = 85.125 → 85.13 (half-up)
                    138.25 h at 0.80 (15th 00:00 → 20th 18:15) = 110.60
    partition-hours 10 x 108 h (12th → 16th 12:00) + 20 x 36 h (→ 18th, deleted) = 1800 → 2.70
    storage         20 GiB x 144 h (12th → 18th) = 2880 GiB-h ÷ 744 h = 3.870968 GiB-month → 0.39
    data in         8 GiB → 0.80;  data out 0 → 0.00
    total           199.62
    """
    PriceVersion.objects.create(
        meter="cluster_hours",
        unit_price=Decimal("0.80"),
        effective_from=at("2026-10-15 00:00").date(),
    )
    cluster = billed_cluster("2026-10-10 06:30", "2026-10-20 18:15", name="ledger")
    partitions(cluster, "payments", "2026-10-12 00:00", 10)
    partitions(cluster, "payments", "2026-10-16 12:00", 20)
    partitions(cluster, "payments", "2026-10-18 00:00", 0)
    minute_row(cluster, "payments", "2026-10-11 08:00", bytes_in=3 * GIB)
    minute_row(cluster, "payments", "2026-10-12 00:00", storage=20 * GIB)
    minute_row(cluster, "payments", "2026-10-14 17:42", bytes_in=5 * GIB, storage=20 * GIB)

    close_month(parse_month("2026-10"), now=at("2026-11-01 01:00"))

    invoice = Invoice.objects.get(team=cluster.team, period=parse_month("2026-10"))
    assert lines_of(invoice) == [
        (
            "ledger · Cluster-hours at 0.75 (from Jan 1)",
            Decimal("113.500000"),
            "hour",
            Decimal("0.75"),
            Decimal("85.13"),
        ),
        (
            "ledger · Cluster-hours at 0.8 (from Oct 15)",
            Decimal("138.250000"),
            "hour",
            Decimal("0.80"),
            Decimal("110.60"),
        ),
        (
            "ledger · Partition-hours",
            Decimal("1800.000000"),
            "partition-hour",
            Decimal("0.0015"),
            Decimal("2.70"),
        ),
        ("ledger · Storage", Decimal("3.870968"), "GiB-month", Decimal("0.10"), Decimal("0.39")),
        ("ledger · Data in", Decimal("8.000000"), "GiB", Decimal("0.10"), Decimal("0.80")),
        ("ledger · Data out", Decimal("0.000000"), "GiB", Decimal("0.05"), Decimal("0.00")),
    ]
    assert invoice.subtotal == Decimal("199.62")


def test_an_emptied_price_book_is_an_error_until_the_default_prices_are_restored():
    """A partial restore is refused with a clear error, not priced by a lookup that writes; the
    defaults come back the way the migration and the tests' fixture seed them."""
    PriceVersion.objects.all().delete()
    cluster = billed_cluster("2026-11-30 23:00", name="solo")
    with pytest.raises(PriceBookEmptyError):
        close_month(parse_month("2026-11"), now=at("2026-12-01 01:00"))
    assert not PriceVersion.objects.exists()
    assert price_book_seed_defaults() == len(DEFAULT_PRICES)  # one per meter
    close_month(parse_month("2026-11"), now=at("2026-12-01 01:00"))
    line = Invoice.objects.get(team=cluster.team).lines.get(meter="cluster_hours")
    # Cluster-hours are free by default: the meter is still measured and shown.
    assert (line.quantity, line.unit_price, line.amount) == (1, Decimal("0"), Decimal("0.00"))
    assert PriceVersion.objects.count() == len(DEFAULT_PRICES)


def test_topic_chargeback_prices_each_day_and_adds_up_to_the_invoice():
    """Data in at 0.10 before the 15th and 0.20 from it; storage split 3:1 between topics."""
    from billing.services.usage import topic_usage

    PriceVersion.objects.create(
        meter="data_in", unit_price=Decimal("0.20"), effective_from=at("2026-10-15 00:00").date()
    )
    cluster = billed_cluster("2026-10-01 00:00", name="split")
    partitions(cluster, "a", "2026-10-01 00:00", 1)
    partitions(cluster, "b", "2026-10-01 00:00", 1)
    # Evenly spaced samples of both topics (the sampler writes one per topic per minute; every
    # 3 days here), traffic on the 10th and the 19th.
    for day in range(1, 32, 3):
        traffic = 10 * GIB if day in (10, 19) else 0
        minute_row(cluster, "a", f"2026-10-{day:02d} 00:00", bytes_in=traffic, storage=3 * GIB)
        minute_row(cluster, "b", f"2026-10-{day:02d} 00:00", storage=GIB)
    close_month(parse_month("2026-10"), now=at("2026-11-01 01:00"))
    invoice = Invoice.objects.get(team=cluster.team, period=parse_month("2026-10"))

    topics = {t.topic: t for t in topic_usage(cluster, parse_month("2026-10"))}
    assert topics["a"].data_in_gib == 20 and topics["a"].data_in_cost == Decimal("3.00")
    invoiced_in = sum(line.amount for line in invoice.lines.filter(meter="data_in"))
    assert invoiced_in == Decimal("3.00")
    invoiced_storage = invoice.lines.get(meter="storage").amount  # 4 GiB-month x 0.10
    assert invoiced_storage == Decimal("0.40")
    assert (topics["a"].storage_cost, topics["b"].storage_cost) == (
        Decimal("0.30"),
        Decimal("0.10"),
    )
