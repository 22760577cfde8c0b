"""Billing API: the team's usage and invoices (with PDF and CSV), and the staff finance export.

Staff authenticate for the finance export like anyone else — with their browser session, or
with an API token they created in a team they belong to; what counts is the token's *user*
being platform staff (`is_staff`), not the token's team or role.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers import InvoiceDetailOutput, InvoiceOutput, MonthUsageOutput
from billing.downloads import finance_export_response, invoice_csv_response, invoice_pdf_response
from billing.errors import BillingError
from billing.models import Invoice
from billing.periods import parse_month
from billing.selectors import parse_export_month, parse_usage_month
from billing.services.usage import month_usage
from console.api.mixins import TeamScopedAPIMixin
from console.api.permissions import IsPlatformStaff, TeamActionPermission, api_team_context
from console.permissions import Action

BAD_REQUEST = OpenApiResponse(description="A month that is not YYYY-MM, or not allowed here.")


class JsonErrorsMixin:
    """Errors of a file endpoint are the API's JSON error body, sent as application/json (not
    under the file's type a client asked for in Accept), as the schema documents them."""

    def handle_exception(self, exc):
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return super().handle_exception(exc)


class _FileRenderer(renderers.BaseRenderer):
    """Lets a client ask for the file's type in Accept; the view returns the file itself."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return renderers.JSONRenderer().render(data)  # an error body


class PdfRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class CsvRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


def _month_or_400(parse, text):
    try:
        return parse(text)
    except ValueError as exc:
        raise ValidationError({"month": str(exc)}) from exc


class UsageAPIView(APIView):
    """Month-to-date cost of the team (or a past month): per cluster and meter, per day, and
    the forecast to the month's end. Same numbers as the Usage page and the draft invoice."""

    permission_classes = [TeamActionPermission]
    required_action = Action.BILLING_VIEW

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month",
                OpenApiTypes.STR,
                description="YYYY-MM (UTC); default: the current month. Not a future month.",
            )
        ],
        responses={200: MonthUsageOutput, 400: BAD_REQUEST},
    )
    def get(self, request):
        period = _month_or_400(parse_usage_month, request.query_params.get("month"))
        try:
            usage = month_usage(api_team_context(request).team, period)
        except BillingError as exc:
            # The same error, placed on the month it is about (the one handler renders it).
            raise type(exc)(exc.message, fields={"month": exc.message}) from exc
        body = {
            "period": usage.period,
            "as_of": usage.as_of,
            "total": usage.total,
            "forecast": usage.forecast,
            "clusters": usage.clusters,
            "daily": [{"date": day, "amount": amount} for day, amount in usage.daily],
        }
        return Response(MonthUsageOutput(body).data)


INVOICE_FILTERS = [
    OpenApiParameter("month", OpenApiTypes.STR, description="Only this period (YYYY-MM)."),
    OpenApiParameter(
        "status", OpenApiTypes.STR, enum=Invoice.Status.values, description="Only this status."
    ),
]


class InvoiceViewSet(
    JsonErrorsMixin,
    TeamScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The team's invoices, newest month first; drafts are estimates without a number."""

    queryset = Invoice.objects.select_related("team").order_by("-period", "-created_at", "-id")
    serializer_class = InvoiceOutput
    required_action = Action.BILLING_VIEW

    def get_serializer_class(self):
        return InvoiceDetailOutput if self.action == "retrieve" else InvoiceOutput

    def get_renderers(self):
        extra = {"pdf": PdfRenderer, "csv": CsvRenderer}.get(getattr(self, "action", None))
        return [*super().get_renderers(), extra()] if extra else super().get_renderers()

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("lines")
        if self.action != "list":
            return queryset
        params = self.request.query_params
        if params.get("month"):
            queryset = queryset.filter(period=_month_or_400(parse_month, params["month"]))
        status = params.get("status")
        if status:
            if status not in Invoice.Status.values:
                raise ValidationError(
                    {"status": f"Choose one of: {', '.join(Invoice.Status.values)}."}
                )
            queryset = queryset.filter(status=status)
        return queryset

    @extend_schema(parameters=INVOICE_FILTERS, responses={200: InvoiceOutput(many=True)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(description="One invoice of the team with its lines (another team's: 404).")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def pdf(self, request, pk=None):
        """The invoice as a PDF (drafts are watermarked DRAFT)."""
        return invoice_pdf_response(self.get_object())

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def csv(self, request, pk=None):
        """The invoice as CSV: one row per line, the columns documented in the README."""
        return invoice_csv_response(self.get_object())


class FinanceExportAPIView(JsonErrorsMixin, APIView):
    """Platform staff: every finalized, paid and void invoice of a month, one row per line."""

    permission_classes = [IsPlatformStaff]
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="v1_exports_invoices_csv",
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, required=True, description="YYYY-MM")
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: BAD_REQUEST},
    )
    def get(self, request):
        return finance_export_response(
            _month_or_400(parse_export_month, request.query_params.get("month"))
        )
