"""Connector task-hours (issue 19): from the connectors' task-count history to usage records
and invoice lines, against a frozen clock; the roll-up is idempotent on re-run."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import Meter, UsageRecord
from billing.services.invoices import close_month, recompute_draft
from billing.services.rollup import rollup_hour, rollup_hours
from clusters.models import Connector, ConnectorTaskEvent
from tests.billing.sources import at, billed_cluster

pytestmark = pytest.mark.django_db


def tasks(connector, when: str, count: int) -> None:
    ConnectorTaskEvent.objects.create(
        connector=connector, cluster=connector.cluster, tasks=count, occurred_at=at(when),
        reason="test",
    )  # fmt: skip


def hours(cluster) -> dict:
    return dict(
        UsageRecord.objects.filter(cluster=cluster, meter=Meter.CONNECTOR_HOURS)
        .order_by("hour_start")
        .values_list("hour_start", "quantity")
    )


def test_two_tasks_from_10_30_paused_at_11_15_resumed_at_11_45_with_one():
    cluster = billed_cluster("2026-11-02 09:00")
    sink = Connector.objects.create(cluster=cluster, name="sink", plugin="jdbc-sink")
    tasks(sink, "2026-11-02 10:30", 2)
    tasks(sink, "2026-11-02 11:15", 0)  # paused
    tasks(sink, "2026-11-02 11:45", 1)  # resumed with one task
    source = Connector.objects.create(cluster=cluster, name="cdc", plugin="postgres-cdc")
    tasks(source, "2026-11-02 11:00", 1)
    tasks(source, "2026-11-02 11:30", 0)  # deleted
    now = at("2026-11-02 13:00")
    first = rollup_hours([at("2026-11-02 10:00"), at("2026-11-02 11:00"), at("2026-11-02 12:00")],
                         now=now)  # fmt: skip
    expected = {
        at("2026-11-02 10:00"): Decimal("1"),  # 2 tasks for 0.5 h
        at("2026-11-02 11:00"): Decimal("1.25"),  # sink 2 for 0.25 + 1 for 0.25, cdc 1 for 0.5
        at("2026-11-02 12:00"): Decimal("1"),  # 1 task for 1 h
    }
    assert hours(cluster) == expected
    # Re-running the same hours changes nothing (rows set from the sources, not added to).
    again = rollup_hours(list(expected), now=now + dt.timedelta(minutes=5))
    assert (again.created, again.changed, again.removed) == (0, 0, 0)
    assert first.rows == again.rows
    assert hours(cluster) == expected
    rollup_hour(at("2026-11-02 11:00"), now=now)
    assert hours(cluster) == expected


def test_task_hours_are_a_line_of_the_invoice_at_the_price_book_rate():
    cluster = billed_cluster("2026-11-01 00:00", name="withconnect")
    bystander = billed_cluster("2026-11-01 00:00", name="without")
    sink = Connector.objects.create(cluster=cluster, name="sink", plugin="jdbc-sink")
    tasks(sink, "2026-11-10 00:00", 2)
    tasks(sink, "2026-11-11 00:00", 0)
    draft = recompute_draft(cluster.team, dt.date(2026, 11, 1), as_of=at("2026-11-20 00:00"))
    line = draft.lines.get(meter=Meter.CONNECTOR_HOURS)
    assert (line.quantity, line.unit_price, line.amount) == (
        Decimal("48"),
        Decimal("0.11"),
        Decimal("5.28"),
    )
    assert "Connector task-hours" in line.description
    # A cluster without connectors has no connector line (the other meters all show).
    other = recompute_draft(bystander.team, dt.date(2026, 11, 1), as_of=at("2026-11-20 00:00"))
    assert not other.lines.filter(meter=Meter.CONNECTOR_HOURS).exists()
    assert other.lines.count() == 5
    invoices = close_month(dt.date(2026, 11, 1), now=at("2026-12-01 01:00"))
    assert invoices
