"""Property tests (hypothesis): invoices do not depend on how, how often or in which order the
metering data arrived, and money adds up exactly."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Meter, UsageRecord
from billing.periods import month_bounds, parse_month
from billing.services.invoices import line_amount, recompute_draft, usage_totals
from billing.services.price_book import PriceBook
from billing.services.rollup import rollup_pending
from tests.billing.sources import at, billed_cluster, minute_row, partitions

pytestmark = pytest.mark.django_db
NOV = parse_month("2026-11")
PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Rollback(Exception):
    """Ends an example's transaction so the next example starts from the same database."""


def in_rollback(body):
    result = None
    try:
        with transaction.atomic():
            result = body()
            raise Rollback
    except Rollback:
        pass
    return result


# Samples of one topic in the last four hours of November: (minute offset, in, out, storage).
samples = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=239),
        st.integers(min_value=0, max_value=50 * 2**30),
        st.integers(min_value=0, max_value=80 * 2**30),
        st.integers(min_value=0, max_value=500 * 2**30),
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda s: s[0],
)


def invoice_for(rows, *, duplicate: bool, shuffle_seed: int | None, rollups: int):
    def body():
        cluster = billed_cluster("2026-11-30 19:47:13", name="prop")
        partitions(cluster, "t", "2026-11-30 20:00", 7)
        writes = [r for r in rows for _ in range(2 if duplicate else 1)]
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(writes)
        base = at("2026-11-30 20:00")
        for offset, bytes_in, bytes_out, storage in writes:
            minute = base + dt.timedelta(minutes=offset)
            minute_row(
                cluster,
                "t",
                f"{minute:%Y-%m-%d %H:%M}",
                bytes_in=bytes_in,
                bytes_out=bytes_out,
                storage=storage,
            )
        for _ in range(rollups):  # the hourly task replayed
            rollup_pending(at("2026-12-01 00:30"), recheck_hours=4)
        invoice = recompute_draft(cluster.team, NOV, as_of=at("2026-12-01 00:00"))
        lines = [(li.meter, li.quantity, li.unit_price, li.amount) for li in invoice.lines.all()]
        return lines, invoice.subtotal

    return in_rollback(body)


@PROPERTY
@given(rows=samples, seed=st.integers(min_value=0, max_value=2**32), rollups=st.integers(1, 3))
def test_duplicated_reordered_or_replayed_rows_leave_the_invoice_unchanged(rows, seed, rollups):
    reference = invoice_for(rows, duplicate=False, shuffle_seed=None, rollups=1)
    assert invoice_for(rows, duplicate=True, shuffle_seed=seed, rollups=rollups) == reference
    lines, subtotal = reference
    assert sum(amount for *_rest, amount in lines) == subtotal  # exactly, no rounding of sums
    for _meter, quantity, unit_price, amount in lines:
        assert abs(amount - quantity * unit_price) <= Decimal("0.005")


@settings(max_examples=300, deadline=None)
@given(
    quantity=st.decimals(min_value=0, max_value=10**7, places=6, allow_nan=False),
    unit_price=st.decimals(min_value=0, max_value=100, places=6, allow_nan=False),
)
def test_every_line_rounds_by_at_most_half_a_cent_and_half_up(quantity, unit_price):
    amount = line_amount(quantity, unit_price)
    exact = quantity * unit_price
    assert amount == amount.quantize(Decimal("0.01"))
    assert abs(amount - exact) <= Decimal("0.005")
    if abs(amount - exact) == Decimal("0.005"):
        assert amount > exact  # a tie goes up


# Usage records anywhere in November: (hour index, meter, quantity).
records = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=719),
        st.sampled_from(list(Meter.values)),
        st.decimals(min_value=0, max_value=10**6, places=12, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)


@PROPERTY
@given(rows=records, split=st.integers(min_value=1, max_value=719))
def test_two_parts_of_a_month_sum_to_the_whole(rows, split):
    def body():
        cluster = billed_cluster("2026-11-01 00:00")
        start, end = month_bounds(NOV)
        UsageRecord.objects.bulk_create(
            UsageRecord(
                cluster=cluster,
                meter=meter,
                hour_start=start + dt.timedelta(hours=hour),
                quantity=quantity,
                updated_at=end,
            )
            for hour, meter, quantity in rows
        )
        book = PriceBook.load()
        middle = start + dt.timedelta(hours=split)
        whole = usage_totals(start, end, book, live=False)
        first = usage_totals(start, middle, book, live=False)
        second = usage_totals(middle, end, book, live=False)
        for key in set(whole) | set(first) | set(second):
            assert first.get(key, 0) + second.get(key, 0) == whole.get(key, 0)
        assert sum(whole.values()) == sum(q for _h, _m, q in rows)

    in_rollback(body)
