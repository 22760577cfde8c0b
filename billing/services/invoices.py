"""Invoices: usage records priced by the price book → one invoice per team and month.

* Lines are one per cluster, meter and unit price in effect (a price change mid-month splits the
  meter's line at the change), plus labelled adjustment lines for late usage of months already
  finalized. Line quantity has 6 places in the billing unit; amount = quantity times unit price
  rounded half-up to the cent, per line; subtotal = the sum of the line amounts.
* A draft is recomputed on demand and nightly; the month close finalizes every team's invoice
  after the month ends plus a grace period, assigning gap-free numbers under a lock, in team
  order, in batches that each commit whole: a crash loses at most the batch it was in, and a
  rerun continues with the same numbers an uninterrupted run would have given.
* Usage is read the same way everywhere (`collect_lines`): closed hours from usage records,
  hours not rolled up yet (the open hour) straight from the sources up to `as_of`.
* Prices come from the price book (billing/services/price_book.py); clusters' teams and names
  from `clusters.selectors`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from billing.errors import BillingError
from billing.models import (
    FinalizedInvoiceError,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    Meter,
    MonthClose,
    UsageRecord,
)
from billing.periods import hours_in_month, month_bounds, month_of, previous_month
from billing.services.price_book import (
    BILLING_UNITS,
    METER_LABELS,
    METER_ORDER,
    OPTIONAL_METERS,
    PriceBook,
)
from billing.services.rollup import (
    HourlyUsage,
    pending_hours,
    rollup_hours,
    usage_not_rolled_up,
)
from clusters.selectors import ClusterOwner, cluster_owners
from console.audit import audit_record
from console.models import Team

logger = logging.getLogger(__name__)

QUANTITY = Decimal("0.000001")
CENT = Decimal("0.01")
ZERO = Decimal(0)

# (cluster id, meter, price version id) → quantity in the meter's usage unit
UsageTotals = dict[tuple[int, str, int], Decimal]
# cluster id → its team and name (deleted clusters included)
Clusters = dict[int, ClusterOwner]


@dataclass(frozen=True)
class Line:
    cluster_id: int | None
    cluster_name: str
    meter: str
    label: str
    description: str
    usage_period: dt.date
    is_adjustment: bool
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    price_version_id: int | None


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Round once, per line, half-up to the cent."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def billing_quantity(meter: str, usage_quantity: Decimal, period: dt.date) -> Decimal:
    """Usage unit → billing unit (storage: GiB-hours ÷ hours of the month = GiB-months), 6 dp."""
    if meter == Meter.STORAGE:
        usage_quantity = usage_quantity / hours_in_month(period)
    return usage_quantity.quantize(QUANTITY, rounding=ROUND_HALF_UP)


# --- usage of a period ---------------------------------------------------------------------


def usage_totals(
    start: dt.datetime,
    end: dt.datetime,
    book: PriceBook,
    *,
    cluster_ids: Iterable[int] | None = None,
    live: bool = True,
    unrolled: HourlyUsage | None = None,
) -> UsageTotals:
    """Usage per cluster, meter and price version during `[start, end)`.

    Hours rolled up come from usage records; with `live`, hours not rolled up (the open hour,
    a roll-up that has not run yet) are computed from the sources up to `end` — or taken from
    `unrolled`, when the caller already computed them for the same span and clusters.
    """
    totals: UsageTotals = defaultdict(Decimal)
    ids = None if cluster_ids is None else list(cluster_ids)
    for meter in METER_ORDER:
        for lo, hi, version in book.segments(meter, start, end):
            records = UsageRecord.objects.filter(meter=meter, hour_start__gte=lo, hour_start__lt=hi)
            if ids is not None:
                records = records.filter(cluster_id__in=ids)
            for cluster_id, quantity in (
                records.values("cluster_id")
                .annotate(q=Sum("quantity"))
                .values_list("cluster_id", "q")
            ):
                totals[(cluster_id, meter, version.pk)] += quantity
    if live:
        if unrolled is None:
            unrolled = usage_not_rolled_up(start, end, ids)
        for hour, usage in unrolled.items():
            for (cluster_id, meter), quantity in usage.items():
                totals[(cluster_id, meter, book.at(meter, hour).pk)] += quantity
    return totals


def _lines_for_cluster(
    cluster_id: int,
    cluster_name: str,
    period: dt.date,
    usage: dict[tuple[str, int], Decimal],
    book: PriceBook,
    zero_price_at: dt.datetime,
) -> list[Line]:
    """Every meter of a cluster: a line per price in effect that was used, else a zero line."""
    lines = []
    versions = book.by_pk
    for meter in METER_ORDER:
        used = sorted(
            ((versions[vid], q) for (m, vid), q in usage.items() if m == meter),
            key=lambda item: item[0].effective_from,
        )
        if not used:
            if meter in OPTIONAL_METERS:
                continue
            used = [(book.at(meter, zero_price_at), ZERO)]
        split = len(used) > 1
        for version, usage_quantity in used:
            quantity = billing_quantity(meter, usage_quantity, period)
            description = f"{cluster_name} · {METER_LABELS[meter]}"
            if split:
                description += (
                    f" at {version.unit_price.normalize():f} (from {version.effective_from:%b %-d})"
                )
            lines.append(
                Line(
                    cluster_id=cluster_id,
                    cluster_name=cluster_name,
                    meter=meter,
                    label=METER_LABELS[meter],
                    description=description,
                    usage_period=period,
                    is_adjustment=False,
                    quantity=quantity,
                    unit=BILLING_UNITS[meter],
                    unit_price=version.unit_price,
                    amount=line_amount(quantity, version.unit_price),
                    price_version_id=version.pk,
                )
            )
    return lines


def _late_usage_months(
    period: dt.date, team_ids: Iterable[int] | None, clusters: Clusters
) -> set[tuple[int, dt.date]]:
    """(team, month) pairs of closed months before `period` whose usage changed after the close.

    `clusters`: the teams' clusters (every cluster when `team_ids` is None).
    """
    closes = {c.period: c.started_at for c in MonthClose.objects.filter(period__lt=period)}
    if not closes:
        return set()
    records = UsageRecord.objects.filter(
        hour_start__lt=month_bounds(period)[0],
        hour_start__gte=month_bounds(min(closes))[0],
        updated_at__gte=min(closes.values()),
    )
    if team_ids is not None:
        records = records.filter(cluster_id__in=list(clusters))
    found = set()
    for cluster_id, month, latest in (
        records.annotate(month=TruncMonth("hour_start", tzinfo=dt.UTC))
        .values("cluster_id", "month")
        .annotate(latest=Max("updated_at"))
        .values_list("cluster_id", "month", "latest")
    ):
        month = month_of(month)
        owner = clusters.get(cluster_id)  # None: a cluster newer than `clusters` (none of theirs)
        if owner is not None and month in closes and latest >= closes[month]:
            found.add((owner.team_id, month))
    return found


def _adjustment_lines(
    team_id: int,
    month: dt.date,
    period: dt.date,
    book: PriceBook,
    clusters: Clusters,
) -> list[Line]:
    """What month `month` used beyond what finalized invoices billed for it, as lines."""
    start, end = month_bounds(month)
    team_cluster_ids = [pk for pk, owner in clusters.items() if owner.team_id == team_id]
    now_usage = usage_totals(start, end, book, cluster_ids=team_cluster_ids, live=False)
    billed: dict[tuple[int, str, int], Decimal] = defaultdict(Decimal)
    for cluster_id, meter, version_id, quantity in (
        InvoiceLine.objects.filter(
            invoice__team_id=team_id,
            invoice__status__in=[Invoice.Status.FINALIZED, Invoice.Status.PAID],
            usage_period=month,
        )
        .exclude(invoice__period=period)  # this draft's own adjustments are being recomputed
        .values_list("cluster_id", "meter", "price_version_id", "quantity")
    ):
        billed[(cluster_id, meter, version_id)] += quantity
    lines = []
    versions = book.by_pk
    for (cluster_id, meter, version_id), usage_quantity in sorted(now_usage.items()):
        missing = (
            billing_quantity(meter, usage_quantity, month) - billed[(cluster_id, meter, version_id)]
        )
        if missing < 0:
            # Billed more than the recount: never credited silently; finance reviews it.
            logger.warning(
                "recount of %s for cluster %s (%s) is %s below what was billed; not credited",
                month,
                cluster_id,
                meter,
                -missing,
            )
            continue
        if missing == 0:
            continue
        version = versions[version_id]
        name = clusters[cluster_id].name
        lines.append(
            Line(
                cluster_id=cluster_id,
                cluster_name=name,
                meter=meter,
                label=METER_LABELS[meter],
                description=(
                    f"Adjustment: late usage for {month:%B %Y} · {name} · {METER_LABELS[meter]}"
                ),
                usage_period=month,
                is_adjustment=True,
                quantity=missing,
                unit=BILLING_UNITS[meter],
                unit_price=version.unit_price,
                amount=line_amount(missing, version.unit_price),
                price_version_id=version.pk,
            )
        )
    return lines


def collect_lines(
    period: dt.date,
    *,
    as_of: dt.datetime | None = None,
    team_ids: Iterable[int] | None = None,
    book: PriceBook | None = None,
    unrolled: HourlyUsage | None = None,
) -> dict[int, list[Line]]:
    """The lines every team (or the given teams) would be invoiced for `period` as of now.

    Teams with no usage in the period and no late usage to adjust get no entry. `unrolled`:
    the usage of the hours not rolled up yet, if the caller has it (see `usage_totals`).
    """
    start, end = month_bounds(period)
    now = timezone.now()
    as_of = min(as_of or now, end)
    book = book or PriceBook.load()
    team_ids = None if team_ids is None else list(team_ids)
    clusters = cluster_owners(team_ids=team_ids)
    totals = usage_totals(
        start,
        as_of,
        book,
        cluster_ids=None if team_ids is None else clusters,
        unrolled=unrolled,
    )
    by_cluster: dict[int, dict[tuple[str, int], Decimal]] = defaultdict(dict)
    for (cluster_id, meter, version_id), quantity in totals.items():
        if cluster_id in clusters:
            by_cluster[cluster_id][(meter, version_id)] = quantity
    lines: dict[int, list[Line]] = defaultdict(list)
    zero_price_at = max(start, as_of - dt.timedelta(microseconds=1))
    for cluster_id in sorted(by_cluster, key=lambda pk: (clusters[pk].name, pk)):
        team_id, name = clusters[cluster_id]
        lines[team_id].extend(
            _lines_for_cluster(
                cluster_id, name, period, by_cluster[cluster_id], book, zero_price_at
            )
        )
    late = _late_usage_months(period, team_ids, clusters)
    if late:
        # A month whose invoice was voided and is being replaced: the replacement bills it.
        replacing = set(
            Invoice.objects.filter(
                status=Invoice.Status.DRAFT, period__in={month for _t, month in late}
            ).values_list("team_id", "period")
        )
        for team_id, month in sorted(late - replacing):
            lines[team_id].extend(_adjustment_lines(team_id, month, period, book, clusters))
    if MonthClose.objects.filter(period=period).exists():
        _net_of_later_adjustments(lines, period, team_ids)
    return {team_id: team_lines for team_id, team_lines in lines.items() if team_lines}


def _net_of_later_adjustments(
    lines: dict[int, list[Line]], period: dt.date, team_ids: list[int] | None
) -> None:
    """A closed month recomputed (the replacement of a voided invoice) must not bill again what
    later invoices already billed for it as late-usage adjustments."""
    adjusted = InvoiceLine.objects.filter(
        is_adjustment=True,
        usage_period=period,
        invoice__status__in=[Invoice.Status.FINALIZED, Invoice.Status.PAID],
    )
    if team_ids is not None:
        adjusted = adjusted.filter(invoice__team_id__in=team_ids)
    billed: dict[tuple, Decimal] = defaultdict(Decimal)
    for key in adjusted.values_list(
        "invoice__team_id", "cluster_id", "meter", "price_version_id", "quantity"
    ):
        billed[key[:4]] += key[4]
    for team_id, team_lines in lines.items():
        for index, line in enumerate(team_lines):
            taken = billed.get((team_id, line.cluster_id, line.meter, line.price_version_id))
            if not taken or line.is_adjustment:
                continue
            quantity = max(line.quantity - taken, ZERO)
            team_lines[index] = dataclasses.replace(
                line,
                quantity=quantity,
                amount=line_amount(quantity, line.unit_price),
                description=f"{line.description} (less {taken.normalize():f} adjusted later)",
            )


# --- drafts --------------------------------------------------------------------------------


_LINE_COLUMNS = (
    "invoice_id",
    "position",
    "cluster_id",
    "cluster_name",
    "meter",
    "description",
    "usage_period",
    "is_adjustment",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "price_version_id",
)


def _line_values(invoice_id: int, position: int, line: Line) -> tuple:
    return (
        invoice_id,
        position,
        line.cluster_id,
        line.cluster_name,
        line.meter,
        line.description[:200],
        line.usage_period,
        line.is_adjustment,
        line.quantity,
        line.unit,
        line.unit_price,
        line.amount,
        line.price_version_id,
    )


def _insert_lines(rows: list[tuple], invoice_ids: list[int]) -> None:
    """Insert draft lines; on PostgreSQL with COPY (a month close writes ~15 lines per team).

    COPY bypasses the model layer, so the same guard `InvoiceLine.objects.bulk_create` applies
    is checked here first: lines only ever go to drafts.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        InvoiceLine.objects.bulk_create(
            [InvoiceLine(**dict(zip(_LINE_COLUMNS, row, strict=True))) for row in rows],
            batch_size=2000,
        )
        return
    if Invoice.objects.filter(pk__in=invoice_ids).exclude(status=Invoice.Status.DRAFT).exists():
        raise FinalizedInvoiceError("Lines cannot be added to a finalized invoice.")
    table = InvoiceLine._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY {table} ({', '.join(_LINE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _write_drafts(
    period: dt.date,
    lines_by_team: dict[int, list[Line]],
    team_ids: list[int],
    *,
    as_of: dt.datetime,
    create_missing: bool = True,
) -> dict[int, Invoice]:
    """Replace the lines of the teams' draft invoices (creating drafts as needed)."""
    now = timezone.now()
    existing = {
        inv.team_id: inv
        for inv in Invoice.objects.filter(period=period, team_id__in=team_ids).exclude(
            status=Invoice.Status.VOID
        )
    }
    drafts: dict[int, Invoice] = {}
    new, recomputed, empty = [], [], []
    for team_id in team_ids:
        invoice = existing.get(team_id)
        team_lines = lines_by_team.get(team_id, [])
        if invoice is not None and not invoice.is_draft:
            continue  # finalized: never recomputed
        if invoice is None:
            if not team_lines or not create_missing:
                continue
            invoice = Invoice(team_id=team_id, period=period)
            new.append(invoice)
        elif not team_lines:
            empty.append(invoice.pk)  # a draft with nothing to bill is not a document
            continue
        else:
            recomputed.append(invoice)
        invoice.subtotal = sum((line.amount for line in team_lines), ZERO).quantize(CENT)
        invoice.usage_through = as_of
        invoice.computed_at = now
        drafts[team_id] = invoice
    if empty:
        Invoice.objects.filter(pk__in=empty, status=Invoice.Status.DRAFT).delete()
    InvoiceLine.objects.filter(invoice__in=[inv.pk for inv in recomputed]).delete()
    Invoice.objects.bulk_create(new, batch_size=2000)
    if new and any(inv.pk is None for inv in new):  # a backend that returns no ids
        ids = dict(
            Invoice.objects.filter(period=period, team_id__in=[i.team_id for i in new])
            .exclude(status=Invoice.Status.VOID)
            .values_list("team_id", "pk")
        )
        for inv in new:
            inv.pk = ids[inv.team_id]
    Invoice.objects.bulk_update(
        recomputed, ["subtotal", "usage_through", "computed_at"], batch_size=2000
    )
    rows = [
        _line_values(invoice.pk, position, line)
        for team_id, invoice in drafts.items()
        for position, line in enumerate(lines_by_team[team_id], start=1)
    ]
    _insert_lines(rows, [inv.pk for inv in drafts.values()])
    return drafts


def _finalize_rows(invoices: list[Invoice], numbers: list[str], now: dt.datetime) -> None:
    """Drafts → finalized with their numbers, in one statement per batch on PostgreSQL."""
    for invoice, number in zip(invoices, numbers, strict=True):
        invoice.number, invoice.status, invoice.finalized_at = number, Invoice.Status.FINALIZED, now
    if not invoices:
        return
    if connection.vendor != "postgresql":
        Invoice.objects.bulk_update(invoices, ["number", "status", "finalized_at"], batch_size=500)
        return
    table = Invoice._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} AS i SET number = v.number, status = %s, finalized_at = %s
                FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::text[]) AS number) AS v
                WHERE i.id = v.id AND i.status = %s""",  # noqa: S608 (table name from the model)
            [
                Invoice.Status.FINALIZED,
                now,
                [inv.pk for inv in invoices],
                numbers,
                Invoice.Status.DRAFT,
            ],
        )
        if cursor.rowcount != len(invoices):  # a draft changed under us: roll the batch back
            raise FinalizedInvoiceError("An invoice of the batch was no longer a draft.")


def recompute_drafts(
    period: dt.date,
    *,
    team_ids: Iterable[int] | None = None,
    as_of: dt.datetime | None = None,
) -> int:
    """Recompute the drafts of a month (all teams with usage, or the given ones).

    After the month was closed only existing drafts (replacements of voided invoices) are
    recomputed: late usage of a closed month goes to the next month's invoice instead.
    """
    as_of = min(as_of or timezone.now(), month_bounds(period)[1])
    team_ids = None if team_ids is None else list(team_ids)
    lines = collect_lines(period, as_of=as_of, team_ids=team_ids)
    drafts = Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT)
    if team_ids is not None:
        drafts = drafts.filter(team_id__in=team_ids)
    targets = sorted(set(lines) | set(drafts.values_list("team_id", flat=True)))
    closed = MonthClose.objects.filter(period=period).exists()
    with transaction.atomic():
        written = _write_drafts(period, lines, targets, as_of=as_of, create_missing=not closed)
    return len(written)


def recompute_draft(
    team: Team, period: dt.date, *, as_of: dt.datetime | None = None
) -> Invoice | None:
    """The team's invoice for the month, recomputed if it is a draft (None: nothing to bill)."""
    recompute_drafts(period, team_ids=[team.pk], as_of=as_of)
    return (
        Invoice.objects.filter(team=team, period=period).exclude(status=Invoice.Status.VOID).first()
    )


# A draft shown on a page is recomputed first when it was computed longer ago than this, so it
# says what Usage says (a draft of $0.00 beside $0.17 of usage, until "Recompute now", was the
# bug of issue 16). Drafts are otherwise recomputed nightly and on close.
DRAFT_VIEW_MAX_AGE = dt.timedelta(seconds=60)


def drafts_refresh_for_view(
    *,
    team: Team,
    period: dt.date | None = None,
    now: dt.datetime | None = None,
    max_age: dt.timedelta = DRAFT_VIEW_MAX_AGE,
) -> bool:
    """Recompute the team's draft of `period` (default: the current month, which may have no
    draft yet) unless it was computed within `max_age`; whether it was recomputed."""
    now = now or timezone.now()
    period = period or month_of(now)
    fresh = Invoice.objects.filter(
        team=team, period=period, status=Invoice.Status.DRAFT, computed_at__gte=now - max_age
    ).exists()
    if fresh:
        return False
    recompute_drafts(period, team_ids=[team.pk], as_of=now)
    return True


# --- closing a month -----------------------------------------------------------------------


@dataclass(frozen=True)
class CloseResult:
    period: dt.date
    finalized: int
    already_final: int
    numbers: tuple[str, str] | None  # first and last number assigned in this run


def invoice_number(year: int, sequence: int) -> str:
    return f"{settings.SKIFF_INVOICE_NUMBER_PREFIX}-{year}-{sequence:06d}"


def _assign_numbers(invoices: list[Invoice], year: int) -> list[str]:
    """Take the next numbers of the year under a row lock (call inside the batch transaction)."""
    InvoiceNumberSequence.objects.get_or_create(year=year)
    sequence = InvoiceNumberSequence.objects.select_for_update().get(year=year)
    first = sequence.last_number + 1
    sequence.last_number += len(invoices)
    sequence.save(update_fields=["last_number"])
    return [invoice_number(year, first + i) for i in range(len(invoices))]


def close_month(
    period: dt.date,
    *,
    now: dt.datetime | None = None,
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> CloseResult:
    """Finalize every team's invoice of a month that has ended (plus the grace period).

    Safe to run again, and after a crash: finalized invoices are left alone; the rest are
    recomputed from usage records up to the month's end and finalized in team order, a batch
    per transaction, numbers assigned under the sequence's lock in the same transaction.
    `on_batch(batch_index)` runs inside each batch's transaction (fault injection in tests).
    """
    now = now or timezone.now()
    start, end = month_bounds(period)
    closable_at = end + settings.SKIFF_BILLING_GRACE
    if now < closable_at:
        raise BillingError(
            f"{period:%Y-%m} can be closed from {closable_at:%Y-%m-%d %H:%M} UTC "
            f"(the month's end plus the grace period)."
        )
    close, _ = MonthClose.objects.get_or_create(period=period, defaults={"started_at": now})
    final_teams = set(
        Invoice.objects.filter(period=period)
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
        .values_list("team_id", flat=True)
    )
    draft_teams = set(
        Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT).values_list(
            "team_id", flat=True
        )
    )
    if close.finished_at is not None:
        # Closed before: only replacements of voided invoices are left to finalize.
        if not draft_teams:
            return CloseResult(period, 0, len(final_teams), None)
        lines = collect_lines(period, as_of=end, team_ids=sorted(draft_teams))
    else:
        # Every hour of the month must be in usage records before anything is finalized.
        rollup_hours(pending_hours(now, since=start, until=end), now=now)
        lines = collect_lines(period, as_of=end)
    todo = sorted((set(lines) | draft_teams) - final_teams)
    finalized, numbers = 0, []
    # ~15 lines per team stay alive for the whole close: keep the collector from rescanning
    # them at every full collection (measured: most of the close's GC time at 10,000 teams).
    gc.freeze()
    try:
        for index in range(0, len(todo), batch_size):
            batch = todo[index : index + batch_size]
            with transaction.atomic():
                drafts = _write_drafts(period, lines, batch, as_of=end)
                invoices = [drafts[team_id] for team_id in batch if team_id in drafts]
                assigned = _assign_numbers(invoices, period.year)
                _finalize_rows(invoices, assigned, now)
                if on_batch is not None:
                    on_batch(index // batch_size)
            finalized += len(invoices)
            numbers.extend(assigned)
    finally:
        gc.unfreeze()
    close.finished_at = timezone.now()
    close.invoices_finalized = Invoice.objects.filter(
        period=period, status__in=[Invoice.Status.FINALIZED, Invoice.Status.PAID]
    ).count()
    close.save(update_fields=["finished_at", "invoices_finalized"])
    logger.info(
        "closed %s: %d invoices finalized now, %d before", period, finalized, len(final_teams)
    )
    return CloseResult(
        period=period,
        finalized=finalized,
        already_final=len(final_teams),
        numbers=(numbers[0], numbers[-1]) if numbers else None,
    )


def closable_month(now: dt.datetime) -> dt.date | None:
    """The previous month, if its grace period is over and it was not closed completely."""
    period = previous_month(month_of(now))
    if now < month_bounds(period)[1] + settings.SKIFF_BILLING_GRACE:
        return None
    if MonthClose.objects.filter(period=period, finished_at__isnull=False).exists():
        return None
    return period


# --- after finalization ----------------------------------------------------------------------


def mark_paid(invoice: Invoice, *, at: dt.datetime | None = None) -> Invoice:
    if invoice.status != Invoice.Status.FINALIZED:
        raise BillingError(
            f"Only a finalized invoice can be marked paid (this one is {invoice.status})."
        )
    with transaction.atomic():
        invoice.status = Invoice.Status.PAID
        invoice.paid_at = at or timezone.now()
        invoice.save(update_fields=["status", "paid_at"])
        audit_record(
            team=invoice.team,
            action="invoice.paid",
            target=invoice,
            target_repr=invoice.number or "",
            before={"status": Invoice.Status.FINALIZED},
            after={"status": Invoice.Status.PAID, "paid_at": invoice.paid_at.isoformat()},
        )
    return invoice


def void_invoice(invoice: Invoice, *, reason: str) -> Invoice | None:
    """Void a finalized or paid invoice (it keeps its number) and draft its replacement.

    The replacement is recomputed from the month's usage records and gets a new number when
    the month is closed again (`close_month` finalizes it).
    """
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Say why the invoice is voided.")
    if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.PAID):
        raise BillingError(
            f"Only a finalized or paid invoice can be voided (this one is {invoice.status})."
        )
    with transaction.atomic():
        invoice.status = Invoice.Status.VOID
        invoice.voided_at = timezone.now()
        invoice.void_reason = reason[:200]
        invoice.save(update_fields=["status", "voided_at", "void_reason"])
        audit_record(
            team=invoice.team,
            action="invoice.void",
            target=invoice,
            target_repr=invoice.number or "",
            after={"status": Invoice.Status.VOID, "reason": invoice.void_reason},
        )
        replacement = Invoice.objects.create(
            team_id=invoice.team_id, period=invoice.period, replaces=invoice
        )
        end = month_bounds(invoice.period)[1]
        lines = collect_lines(invoice.period, as_of=end, team_ids=[invoice.team_id])
        _write_drafts(invoice.period, lines, [invoice.team_id], as_of=end)
    return Invoice.objects.filter(pk=replacement.pk).first()
