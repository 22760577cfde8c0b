"""Billing API shapes. Money and quantities are JSON strings (exact decimals, never floats)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from billing.models import Invoice, InvoiceLine, Meter
from billing.periods import format_month


@extend_schema_field(OpenApiTypes.STR)
class MonthField(serializers.Field):
    """A billing period as `YYYY-MM` (UTC calendar month)."""

    def to_representation(self, value) -> str:
        return format_month(value)


def money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


class UsageLineOutput(serializers.Serializer):
    cluster_id = serializers.IntegerField(allow_null=True)
    cluster_name = serializers.CharField()
    meter = serializers.ChoiceField(choices=Meter.choices)
    label = serializers.CharField()
    description = serializers.CharField()
    usage_period = MonthField(help_text="Month the usage belongs to (YYYY-MM).")
    is_adjustment = serializers.BooleanField(help_text="Late usage of an earlier, closed month.")
    quantity = serializers.DecimalField(
        max_digits=24, decimal_places=6, help_text="In `unit`, 6 decimal places."
    )
    unit = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=6)
    amount = money(help_text="quantity × unit_price, rounded half-up to the cent.")


class ClusterCostOutput(serializers.Serializer):
    cluster_id = serializers.IntegerField()
    cluster_name = serializers.CharField()
    total = money()
    lines = UsageLineOutput(many=True)


class DailyCostOutput(serializers.Serializer):
    date = serializers.DateField()
    amount = money(help_text="Cost of the UTC day, rounded to the cent for display.")


class MonthUsageOutput(serializers.Serializer):
    month = MonthField(source="period")
    as_of = serializers.DateTimeField(help_text="Usage is counted up to this instant.")
    currency = serializers.CharField(default="USD")
    total = money(help_text="Month to date: the sum of the line amounts.")
    forecast = money(help_text="Projected total at the month's end (run rate of the last 24 h).")
    clusters = ClusterCostOutput(many=True)
    daily = DailyCostOutput(many=True)


class InvoiceLineOutput(serializers.ModelSerializer):
    usage_period = MonthField()

    class Meta:
        model = InvoiceLine
        fields = [
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
        ]
        read_only_fields = fields


class InvoiceLinksOutput(serializers.Serializer):
    detail = serializers.URLField()
    pdf = serializers.URLField()
    csv = serializers.URLField()


class InvoiceOutput(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    period = MonthField()
    replaces = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The void invoice this one replaces (null for most invoices).",
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "team",
            "period",
            "status",
            "currency",
            "subtotal",
            "usage_through",
            "computed_at",
            "finalized_at",
            "paid_at",
            "voided_at",
            "void_reason",
            "replaces",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(InvoiceLinksOutput)
    def get_links(self, invoice) -> dict:
        request = self.context.get("request")
        kwargs = {"pk": invoice.pk}
        return {
            "detail": reverse("invoice-detail", kwargs=kwargs, request=request),
            "pdf": reverse("invoice-pdf", kwargs=kwargs, request=request),
            "csv": reverse("invoice-csv", kwargs=kwargs, request=request),
        }


class InvoiceDetailOutput(InvoiceOutput):
    lines = InvoiceLineOutput(many=True, read_only=True)

    class Meta(InvoiceOutput.Meta):
        fields = [*InvoiceOutput.Meta.fields, "lines"]
        read_only_fields = fields
