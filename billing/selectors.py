"""Billing reads for pages, the API and commands: always scoped to a team (or staff-wide)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from billing.models import Invoice
from billing.periods import format_month, month_of, parse_month, previous_month
from console.models import Team

# How far back the month picker goes when a team is older than this.
MONTH_PICKER_LIMIT = 36


def parse_usage_month(text: str | None, *, now: dt.datetime | None = None) -> dt.date:
    """The month a usage request asks for: the current month when empty, never a future one.

    Raises ValueError with a message for the user.
    """
    current = month_of(now or timezone.now())
    if text is None or not text.strip():
        return current
    period = parse_month(text)
    if period > current:
        raise ValueError(
            f"{format_month(period)} has not started yet: choose {format_month(current)} "
            "or an earlier month."
        )
    return period


def parse_export_month(text: str | None) -> dt.date:
    """The month of a finance export; required. Raises ValueError with a message."""
    if text is None or not text.strip():
        raise ValueError("Choose a month (YYYY-MM, e.g. 2026-11).")
    return parse_month(text)


def usage_months(team: Team, *, now: dt.datetime | None = None) -> list[dt.date]:
    """Months the usage page offers, newest first: from the team's first month to now."""
    current = month_of(now or timezone.now())
    first = month_of(team.created_at) if team.created_at else current
    months: list[dt.date] = []
    period = current
    while period >= first and len(months) < MONTH_PICKER_LIMIT:
        months.append(period)
        period = previous_month(period)
    return months


def invoice_list(*, team: Team, status: str | None = None) -> QuerySet[Invoice]:
    """The team's invoices, newest month first; drafts included (they are estimates)."""
    invoices = Invoice.objects.filter(team=team).select_related("team", "replaces")
    if status:
        invoices = invoices.filter(status=status)
    return invoices.order_by("-period", "-created_at", "-id")


def invoice_detail_queryset(*, team: Team) -> QuerySet[Invoice]:
    return Invoice.objects.filter(team=team).select_related("team", "replaces")


def export_months(*, limit: int = 24) -> list[dict]:
    """Months that have invoices, newest first, with counts per status (finance page)."""
    rows = (
        Invoice.objects.values("period")
        .annotate(
            total=Count("id"),
            draft=Count("id", filter=Q(status=Invoice.Status.DRAFT)),
            finalized=Count("id", filter=Q(status=Invoice.Status.FINALIZED)),
            paid=Count("id", filter=Q(status=Invoice.Status.PAID)),
            void=Count("id", filter=Q(status=Invoice.Status.VOID)),
        )
        .order_by("-period")[:limit]
    )
    return [
        {**row, "month": format_month(row["period"]), "exported": row["total"] - row["draft"]}
        for row in rows
    ]
