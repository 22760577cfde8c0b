"""Draft → finalized → paid / void: immutability, gap-free numbers, crash-safe close, late usage."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import (
    FinalizedInvoiceError,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    MonthClose,
)
from billing.periods import parse_month
from billing.services.invoices import (
    BillingError,
    close_month,
    mark_paid,
    recompute_draft,
    recompute_drafts,
    void_invoice,
)
from billing.services.rollup import rollup_hour
from tests.billing.sources import GIB, at, billed_cluster, minute_row, partitions

pytestmark = pytest.mark.django_db
NOV = parse_month("2026-11")
CLOSE_AT = at("2026-12-01 01:30")


class Crash(Exception):
    pass


def seven_teams():
    """Seven teams, one cluster each, different traffic; active the last day of November."""
    clusters = []
    for i in range(7):
        cluster = billed_cluster("2026-11-30 20:00", name=f"c{i}")
        partitions(cluster, "t", "2026-11-30 20:00", i + 1)
        minute_row(cluster, "t", "2026-11-30 21:00", bytes_in=(i + 1) * GIB, storage=GIB)
        clusters.append(cluster)
    return clusters


def snapshot(period=NOV):
    return [
        (
            inv.team_id,
            inv.number,
            inv.status,
            inv.subtotal,
            [
                (li.position, li.meter, li.quantity, li.unit_price, li.amount)
                for li in inv.lines.all()
            ],
        )
        for inv in Invoice.objects.filter(period=period).order_by("team_id")
    ]


def test_a_crash_half_way_then_a_rerun_gives_the_same_invoices_without_a_gap():
    seven_teams()
    # Reference: an uninterrupted close in a savepoint that is rolled back afterwards.
    from django.db import transaction

    try:
        with transaction.atomic():
            close_month(NOV, now=CLOSE_AT, batch_size=3)
            reference = snapshot()
            raise Crash
    except Crash:
        pass
    assert not Invoice.objects.filter(status="finalized").exists()

    def crash_in_second_batch(index):
        if index == 1:
            raise Crash("power cut")

    with pytest.raises(Crash):
        close_month(NOV, now=CLOSE_AT, batch_size=3, on_batch=crash_in_second_batch)
    # The first batch committed whole; the second rolled back whole (numbers included).
    assert Invoice.objects.filter(status="finalized").count() == 3
    assert InvoiceNumberSequence.objects.get(year=2026).last_number == 3
    assert MonthClose.objects.get(period=NOV).finished_at is None

    result = close_month(NOV, now=CLOSE_AT, batch_size=3)
    assert (result.finalized, result.already_final) == (4, 3)
    assert snapshot() == reference
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"SKF-2026-{n:06d}" for n in range(1, 8)]

    again = close_month(NOV, now=CLOSE_AT + dt.timedelta(hours=5))
    assert (again.finalized, again.already_final) == (0, 7)
    assert snapshot() == reference
    assert MonthClose.objects.get(period=NOV).finished_at is not None


def test_a_finalized_invoice_cannot_change_through_the_model_layer():
    (cluster,) = seven_teams()[:1]
    close_month(NOV, now=CLOSE_AT)
    invoice = Invoice.objects.get(team=cluster.team)
    line = invoice.lines.first()
    before = snapshot()

    invoice.subtotal = Decimal("1.00")
    with pytest.raises(FinalizedInvoiceError):
        invoice.save()
    invoice.refresh_from_db()
    with pytest.raises(FinalizedInvoiceError):
        Invoice.objects.filter(pk=invoice.pk).update(subtotal=Decimal("1.00"))
    with pytest.raises(FinalizedInvoiceError):
        Invoice.objects.filter(pk=invoice.pk).update(status="draft", number=None)
    with pytest.raises(FinalizedInvoiceError):
        invoice.delete()
    with pytest.raises(FinalizedInvoiceError):
        Invoice.objects.filter(pk=invoice.pk).delete()
    line.amount = Decimal("0.01")
    with pytest.raises(FinalizedInvoiceError):
        line.save()
    with pytest.raises(FinalizedInvoiceError):
        line.delete()
    with pytest.raises(FinalizedInvoiceError):
        InvoiceLine.objects.filter(invoice=invoice).update(amount=0)
    with pytest.raises(FinalizedInvoiceError):
        InvoiceLine.objects.filter(invoice=invoice).delete()
    with pytest.raises(FinalizedInvoiceError):
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(
                    invoice=invoice,
                    position=99,
                    cluster_name="x",
                    meter="data_in",
                    description="sneaked in",
                    usage_period=NOV,
                    quantity=1,
                    unit="GiB",
                    unit_price=1,
                    amount=1,
                )
            ]
        )
    invoice.status = "draft"
    with pytest.raises(FinalizedInvoiceError, match="cannot go from finalized to draft"):
        invoice.save(update_fields=["status"])
    # And recomputing never touches it.
    assert recompute_drafts(NOV, as_of=CLOSE_AT) == 0
    assert recompute_draft(cluster.team, NOV).number == "SKF-2026-000001"
    assert snapshot() == before


def test_paid_and_void_keep_the_number_and_a_replacement_gets_a_new_one():
    (cluster,) = seven_teams()[:1]
    close_month(NOV, now=CLOSE_AT)
    invoice = Invoice.objects.get(team=cluster.team)
    with pytest.raises(BillingError):
        void_invoice(invoice, reason="  ")
    mark_paid(invoice, at=at("2026-12-05 10:00"))
    with pytest.raises(BillingError, match="Only a finalized invoice"):
        mark_paid(invoice)
    replacement = void_invoice(invoice, reason="wrong customer reference")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("void", "SKF-2026-000001")
    assert replacement.status == "draft" and replacement.replaces_id == invoice.pk
    assert replacement.subtotal == invoice.subtotal
    with pytest.raises(FinalizedInvoiceError, match="cannot go from void to paid"):
        invoice.status = "paid"
        invoice.save()
    close_month(NOV, now=CLOSE_AT + dt.timedelta(days=5))
    replacement.refresh_from_db()
    # The next number after the seven of the first close.
    assert (replacement.status, replacement.number) == ("finalized", "SKF-2026-000008")


def test_late_usage_of_a_finalized_month_goes_to_the_next_invoice_as_an_adjustment():
    cluster = billed_cluster("2026-11-30 22:00", name="late")
    minute_row(cluster, "t", "2026-11-30 22:10", bytes_in=GIB)
    close_month(NOV, now=CLOSE_AT)
    november = Invoice.objects.get(period=NOV)
    assert november.lines.get(meter="data_in").quantity == 1
    billed = snapshot()

    # A sampler that was down replays November's last hour after the close.
    minute_row(cluster, "t", "2026-11-30 23:59", bytes_in=3 * GIB)
    rollup_hour(at("2026-11-30 23:00"), now=at("2026-12-01 04:00"))
    rollup_hour(at("2026-12-01 00:00"), now=at("2026-12-01 04:00"))
    december = recompute_draft(cluster.team, parse_month("2026-12"), as_of=at("2026-12-01 01:00"))
    assert snapshot() == billed  # November itself never changes
    adjustment = december.lines.get(is_adjustment=True)
    assert adjustment.description == "Adjustment: late usage for November 2026 · late · Data in"
    assert (adjustment.quantity, adjustment.amount) == (Decimal("3.000000"), Decimal("0.30"))
    assert adjustment.usage_period == NOV

    # Once December is finalized with it, January does not bill it again.
    close_month(parse_month("2026-12"), now=at("2027-01-01 02:00"))
    january = recompute_draft(cluster.team, parse_month("2027-01"), as_of=at("2027-01-01 02:00"))
    assert not january.lines.filter(is_adjustment=True).exists()


def test_voiding_a_month_already_adjusted_later_bills_nothing_twice():
    cluster = billed_cluster("2026-11-30 22:00", name="twice")
    minute_row(cluster, "t", "2026-11-30 22:10", bytes_in=GIB)
    close_month(NOV, now=CLOSE_AT)
    # 3 GiB more for November arrive late and go on December's invoice as an adjustment.
    minute_row(cluster, "t", "2026-11-30 23:59", bytes_in=3 * GIB)
    rollup_hour(at("2026-11-30 23:00"), now=at("2026-12-01 04:00"))
    close_month(parse_month("2026-12"), now=at("2027-01-01 02:00"))
    december = Invoice.objects.get(period=parse_month("2026-12"))
    assert december.lines.get(is_adjustment=True).quantity == 3

    # November is voided: its replacement bills the 1 GiB, not the 3 GiB December billed.
    november = Invoice.objects.get(period=NOV)
    replacement = void_invoice(november, reason="wrong address")
    data_in = replacement.lines.get(meter="data_in")
    assert data_in.quantity == 1 and data_in.description.endswith("(less 3 adjusted later)")
    # And while the replacement is a draft, January does not adjust November again.
    january = recompute_draft(cluster.team, parse_month("2027-01"), as_of=at("2027-01-01 03:00"))
    assert not january.lines.filter(is_adjustment=True).exists()
    # Once the replacement is finalized, November is fully billed: still nothing to adjust.
    close_month(NOV, now=at("2027-01-01 03:00"))
    replacement.refresh_from_db()
    assert replacement.status == "finalized"
    january = recompute_draft(cluster.team, parse_month("2027-01"), as_of=at("2027-01-01 03:00"))
    assert not january.lines.filter(is_adjustment=True).exists()
