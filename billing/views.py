"""Billing pages: usage and invoices for a team; finance export and price book for staff."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from billing.downloads import finance_export_response, invoice_csv_response, invoice_pdf_response
from billing.errors import BillingError
from billing.forms import PriceVersionForm
from billing.models import Invoice, PriceVersion
from billing.periods import format_month, month_bounds, month_of
from billing.selectors import (
    export_months,
    invoice_detail_queryset,
    invoice_list,
    parse_export_month,
    parse_usage_month,
    usage_months,
)
from billing.services.exports import FINANCE_EXPORT_STATUSES, INVOICE_CSV_COLUMNS
from billing.services.invoices import drafts_refresh_for_view, recompute_draft
from billing.services.price_book import (
    METER_LABELS,
    METER_ORDER,
    price_book,
    price_version_create,
    price_version_delete,
    utc_today,
)
from billing.services.usage import FORECAST_HOW, month_usage, topic_usage
from clusters.selectors import cluster_get_including_deleted
from console.access import PlatformStaffViewMixin, TeamViewMixin, get_team_object_or_404
from console.errors import ValidationFailed
from console.permissions import Action

INVOICES_PER_PAGE = 24
NOON = dt.time(12)


# --- usage -----------------------------------------------------------------------------------


@dataclass
class MeterCell:
    amount: Decimal = Decimal("0.00")
    quantity: Decimal = Decimal(0)
    unit: str = ""
    used: bool = False


@dataclass
class ClusterRow:
    cluster_id: int | None
    cluster_name: str
    cells: list[MeterCell]
    total: Decimal


@dataclass
class UsageTable:
    """Month-to-date cost per cluster (rows) and meter (columns), from a MonthUsage."""

    columns: list[tuple[str, str, Decimal]]  # meter, label, total of the meter
    rows: list[ClusterRow]
    total: Decimal  # of the regular lines (without adjustments)
    adjustments: list = field(default_factory=list)
    adjustments_total: Decimal = Decimal("0.00")


def usage_table(usage) -> UsageTable:
    """Regular lines summed per cluster and meter (a mid-month price change makes two lines of
    one meter); late-usage adjustments of earlier months are listed on their own."""
    index = {meter: i for i, meter in enumerate(METER_ORDER)}
    rows: dict[int | None, ClusterRow] = {}
    for cost in usage.clusters:
        rows[cost.cluster_id] = ClusterRow(
            cost.cluster_id, cost.cluster_name, [MeterCell() for _ in METER_ORDER], Decimal("0.00")
        )
    adjustments = []
    for line in usage.lines:
        if line.is_adjustment:
            adjustments.append(line)
            continue
        row = rows.get(line.cluster_id)
        if row is None:
            row = rows[line.cluster_id] = ClusterRow(
                line.cluster_id,
                line.cluster_name,
                [MeterCell() for _ in METER_ORDER],
                Decimal("0.00"),
            )
        cell = row.cells[index[line.meter]]
        cell.amount += line.amount
        cell.quantity += line.quantity
        cell.unit = line.unit
        cell.used = True
        row.total += line.amount
    meter_totals = [
        sum((row.cells[i].amount for row in rows.values()), Decimal("0.00"))
        for i in range(len(METER_ORDER))
    ]
    return UsageTable(
        columns=[
            (meter, METER_LABELS[meter], meter_totals[i]) for i, meter in enumerate(METER_ORDER)
        ],
        rows=list(rows.values()),
        total=sum(meter_totals, Decimal("0.00")),
        adjustments=adjustments,
        adjustments_total=sum((line.amount for line in adjustments), Decimal("0.00")),
    )


def daily_chart_seed(usage) -> dict:
    """uPlot seed for the daily cost chart: one point per UTC day, and its cost.

    Points sit at 12:00 UTC: the chart labels axes in the browser's time zone, and noon stays
    on the same calendar day for every zone from UTC-12 to UTC+11.
    """
    days = [day for day, _ in usage.daily]
    return {
        "t": [int(dt.datetime.combine(day, NOON, tzinfo=dt.UTC).timestamp()) for day in days],
        # Chart coordinates only (uPlot plots numbers); the amounts shown as text stay Decimal.
        "cost": [float(amount) for _, amount in usage.daily],
    }


class BillingPageMixin(TeamViewMixin):
    required_action = Action.BILLING_VIEW
    tab = ""

    def get_context_data(self, **kwargs):
        return super().get_context_data(nav="billing", tab=self.tab, **kwargs)


class UsageView(BillingPageMixin, TemplateView):
    """Month to date (or a past month): cost, forecast, per cluster and meter, daily chart."""

    template_name = "billing/usage.html"
    tab = "usage"

    def get(self, request, *args, **kwargs):
        now = timezone.now()
        months = usage_months(self.team, now=now)
        try:
            period = parse_usage_month(request.GET.get("month"), now=now)
        except ValueError as exc:
            context = self.get_context_data(error=str(exc), months=months, period=None)
            return self.render_to_response(context, status=400)
        if period not in months:
            months = sorted({*months, period}, reverse=True)
        try:
            usage = month_usage(self.team, period)
        except BillingError as exc:  # e.g. a month before the price book's first prices
            context = self.get_context_data(error=str(exc), months=months, period=period)
            return self.render_to_response(context, status=exc.status)
        start, end = month_bounds(period)
        invoice = (
            invoice_list(team=self.team)
            .filter(period=period)
            .exclude(status=Invoice.Status.VOID)
            .first()
        )
        context = self.get_context_data(
            months=months,
            period=period,
            month=format_month(period),
            is_current=period == month_of(now),
            forecast_how=FORECAST_HOW,
            usage=usage,
            table=usage_table(usage),
            chart_seed=daily_chart_seed(usage),
            month_start=start,
            month_last_day=(end - dt.timedelta(days=1)).date(),
            invoice=invoice,
        )
        return self.render_to_response(context)


class UsageTopicsView(BillingPageMixin, TemplateView):
    """Chargeback: one cluster's month by topic (data in/out and storage). An htmx request
    gets the table alone (swapped into the usage page); a plain request gets a page."""

    template_name = "billing/usage_topics.html"
    tab = "usage"

    def get(self, request, pk, *args, **kwargs):
        # Deleted clusters stay: their usage is still billed for the month they ran in.
        cluster = cluster_get_including_deleted(team=self.team, pk=pk)
        try:
            period = parse_usage_month(request.GET.get("month"))
        except ValueError as exc:
            context = self.get_context_data(error=str(exc), cluster=cluster, period=None)
            return self.render_to_response(context, status=400)
        try:
            topics = topic_usage(cluster, period)
        except BillingError as exc:
            context = self.get_context_data(error=str(exc), cluster=cluster, period=None)
            return self.render_to_response(context, status=exc.status)
        totals = {
            key: sum((getattr(t, key) for t in topics), Decimal(0))
            for key in (
                "data_in_gib",
                "data_out_gib",
                "storage_gib_hours",
                "data_in_cost",
                "data_out_cost",
                "storage_cost",
                "total",
            )
        }
        context = self.get_context_data(
            cluster=cluster, period=period, month=format_month(period), topics=topics, totals=totals
        )
        if request.htmx and not request.htmx.boosted:
            return render(request, "billing/partials/_topic_usage.html", context)
        return self.render_to_response(context)


# --- invoices ------------------------------------------------------------------------------


class InvoiceListView(BillingPageMixin, TemplateView):
    template_name = "billing/invoice_list.html"
    tab = "invoices"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or ""
        if status and status not in Invoice.Status.values:
            # As the API does: a filter that cannot match is an error, never silently ignored.
            raise ValidationFailed(
                {
                    "status": f"No invoice status '{status}': choose one of "
                    f"{', '.join(Invoice.Status.values)}."
                }
            )
        drafts_refresh_for_view(team=self.team)  # drafts say what Usage says
        page = Paginator(invoice_list(team=self.team, status=status or None), INVOICES_PER_PAGE)
        return super().get_context_data(
            page=page.get_page(self.request.GET.get("page")),
            status=status,
            statuses=Invoice.Status.choices,
            **kwargs,
        )


class InvoiceMixin(BillingPageMixin):
    def get_invoice(self) -> Invoice:
        return get_team_object_or_404(
            invoice_detail_queryset(team=self.team), self.team, pk=self.kwargs["pk"]
        )


class InvoiceDetailView(InvoiceMixin, TemplateView):
    template_name = "billing/invoice_detail.html"
    tab = "invoices"

    def get(self, request, *args, **kwargs):
        invoice = self.get_invoice()
        if invoice.is_draft:
            drafts_refresh_for_view(team=self.team, period=invoice.period)  # as Usage says
            if not Invoice.objects.filter(pk=invoice.pk).exists():
                messages.info(request, "That draft has nothing to bill any more.")
                return redirect("billing:invoices")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        invoice = self.get_invoice()
        start, end = month_bounds(invoice.period)
        replaced_by = Invoice.objects.filter(replaces=invoice).first()
        return super().get_context_data(
            invoice=invoice,
            can_refresh=invoice.is_draft
            and self.request.team_context.allows(Action.BILLING_MANAGE),
            lines=invoice.lines.order_by("position"),
            month_start=start,
            month_last_day=(end - dt.timedelta(days=1)).date(),
            replaced_by=replaced_by,
            **kwargs,
        )


class InvoiceRefreshView(InvoiceMixin, View):
    """Recompute a draft now (drafts are otherwise recomputed nightly); finals never change."""

    required_action = Action.BILLING_MANAGE

    def post(self, request, pk):
        invoice = self.get_invoice()
        if not invoice.is_draft:
            messages.error(
                request, f"Invoice {invoice.number} is {invoice.status}: it never changes."
            )
            return redirect("billing:invoice_detail", pk=invoice.pk)
        try:
            refreshed = recompute_draft(self.team, invoice.period)
        except BillingError as exc:
            messages.error(request, str(exc))
            return redirect("billing:invoice_detail", pk=invoice.pk)
        if refreshed is None:
            messages.info(
                request, f"Nothing to bill for {invoice.period:%B %Y} any more: no draft is kept."
            )
            return redirect("billing:invoices")
        messages.success(
            request,
            f"Draft recomputed with usage through {refreshed.usage_through:%Y-%m-%d %H:%M} UTC.",
        )
        return redirect("billing:invoice_detail", pk=refreshed.pk)


class InvoicePdfView(InvoiceMixin, View):
    def get(self, request, pk):
        return invoice_pdf_response(self.get_invoice())


class InvoiceCsvView(InvoiceMixin, View):
    def get(self, request, pk):
        return invoice_csv_response(self.get_invoice())


# --- platform staff: finance export and price book ---------------------------------------------


class FinanceExportView(PlatformStaffViewMixin, TemplateView):
    """Pick a month, download every numbered invoice of it with its lines as one CSV."""

    template_name = "billing/finance_export.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("month", format_month(month_of(timezone.now())))
        return super().get_context_data(
            nav="finance",
            months=export_months(),
            columns=INVOICE_CSV_COLUMNS,
            statuses=FINANCE_EXPORT_STATUSES,
            **kwargs,
        )


class FinanceExportCsvView(FinanceExportView):
    def get(self, request, *args, **kwargs):
        text = request.GET.get("month")
        try:
            period = parse_export_month(text)
        except ValueError as exc:
            context = self.get_context_data(error=str(exc), month=text or "")
            return self.render_to_response(context, status=400)
        return finance_export_response(period)


class PriceBookView(PlatformStaffViewMixin, TemplateView):
    """Every meter's price versions; add a version from today or a later day."""

    template_name = "billing/price_book.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault(
            "form", PriceVersionForm(initial={"effective_from": utc_today().isoformat()})
        )
        return super().get_context_data(nav="prices", book=price_book(), **kwargs)

    def post(self, request, *args, **kwargs):
        form = PriceVersionForm(request.POST)
        if form.is_valid():
            try:
                version = price_version_create(
                    meter=form.cleaned_data["meter"],
                    unit_price=form.cleaned_data["unit_price"],
                    effective_from=form.cleaned_data["effective_from"],
                    note=form.cleaned_data["note"],
                    created_by=request.user,
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    f"{version.get_meter_display()} costs {version.unit_price.normalize():f} USD "
                    f"from {version.effective_from:%Y-%m-%d} (00:00 UTC).",
                )
                return redirect("billing:price_book")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PriceVersionWithdrawView(PlatformStaffViewMixin, View):
    """Withdraw a scheduled version (POST `version`); versions in effect are refused."""

    def post(self, request):
        version = PriceVersion.objects.filter(pk=_int_or_none(request.POST.get("version"))).first()
        if version is None:
            messages.error(request, "That price version does not exist (any more).")
            return redirect("billing:price_book")
        try:
            price_version_delete(version=version)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("billing:price_book")
        messages.success(
            request,
            f"Withdrew the {version.get_meter_display()} price scheduled for "
            f"{version.effective_from:%Y-%m-%d}.",
        )
        return redirect("billing:price_book")


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
