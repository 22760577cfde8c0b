"""Billing factories. A draft built here is fine for pages and files; a *finalized* invoice in a
test comes from `close_month` (tests/billing/sources.py builds the usage it bills)."""

import datetime as dt
from decimal import Decimal

import factory

from billing.models import Invoice, InvoiceLine
from tests.factories import TeamFactory


class DraftInvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    team = factory.SubFactory(TeamFactory)
    period = dt.date(2026, 11, 1)
    status = Invoice.Status.DRAFT
    subtotal = Decimal("0.00")


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    """A cluster-hours line; pass quantity/unit_price and the amount follows (half-up)."""

    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(DraftInvoiceFactory)
    position = factory.Sequence(lambda n: n + 1)
    cluster = None
    cluster_name = "orders"
    meter = "cluster_hours"
    description = factory.LazyAttribute(lambda o: f"{o.cluster_name} · Cluster-hours")
    usage_period = factory.LazyAttribute(lambda o: o.invoice.period)
    is_adjustment = False
    quantity = Decimal("720.000000")
    unit = "hour"
    unit_price = Decimal("0.75")
    amount = factory.LazyAttribute(
        lambda o: (o.quantity * o.unit_price).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    )


def draft_with_lines(team, *lines: dict, period: dt.date = dt.date(2026, 11, 1)) -> Invoice:
    """A draft invoice of `team` with the given lines (kwargs of InvoiceLineFactory), positions
    from 1 and the subtotal set to the sum of the amounts."""
    invoice = DraftInvoiceFactory(team=team, period=period)
    made = [InvoiceLineFactory(invoice=invoice, position=i, **kw) for i, kw in enumerate(lines, 1)]
    invoice.subtotal = sum((line.amount for line in made), Decimal("0.00"))
    invoice.save(update_fields=["subtotal"])
    return invoice
