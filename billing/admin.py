"""Django admin for the price book and invoices. Price versions in effect are read-only; every
write goes through billing.services (same rules and audit trail as the pages)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from billing.errors import BillingError
from billing.models import Invoice, InvoiceLine, PriceVersion
from billing.services.invoices import mark_paid, void_invoice
from billing.services.price_book import (
    clean_price_version,
    is_in_effect,
    price_version_create,
    price_version_delete,
    price_version_update,
)


class PriceVersionAdminForm(forms.ModelForm):
    class Meta:
        model = PriceVersion
        fields = ["meter", "unit_price", "effective_from", "note"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            clean_price_version(
                meter=cleaned.get("meter", ""),
                unit_price=cleaned.get("unit_price"),
                effective_from=cleaned.get("effective_from"),
                note=cleaned.get("note", ""),
                version=self.instance if self.instance.pk else None,
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, messages in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
            else:
                self.add_error(None, exc.messages)
        return cleaned


@admin.register(PriceVersion)
class PriceVersionAdmin(admin.ModelAdmin):
    form = PriceVersionAdminForm
    list_display = ["meter", "unit_price", "effective_from", "note", "created_by", "created_at"]
    list_filter = ["meter"]
    ordering = ["meter", "-effective_from"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and is_in_effect(obj):
            return False  # hours were charged at this price: shown read-only
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and is_in_effect(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = price_version_update(
                version=obj,
                unit_price=data["unit_price"],
                effective_from=data["effective_from"],
                note=data.get("note", ""),
            )
        else:
            saved = price_version_create(
                meter=data["meter"],
                unit_price=data["unit_price"],
                effective_from=data["effective_from"],
                note=data.get("note", ""),
                created_by=request.user,
            )
        obj.pk, obj.created_at, obj.created_by = saved.pk, saved.created_at, saved.created_by

    def get_actions(self, request):
        # Bulk delete would bypass the per-version check; withdraw scheduled versions one by one.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        price_version_delete(version=obj)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ["position", "description", "quantity", "unit", "unit_price", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Platform staff's view of every team's invoices: read-only, plus the two moves finance
    makes after finalization (paid, void), each through billing.services.invoices."""

    list_display = ["__str__", "team", "period", "status", "subtotal", "finalized_at", "paid_at"]
    list_filter = ["status", "period"]
    search_fields = ["number", "team__slug", "team__name"]
    ordering = ["-period", "number"]
    inlines = [InvoiceLineInline]
    actions = ["mark_paid_action", "void_action"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark selected finalized invoices paid")
    def mark_paid_action(self, request, queryset):
        self._apply(request, queryset, lambda invoice: mark_paid(invoice), "marked paid")

    @admin.action(description="Void selected invoices (each gets a replacement draft)")
    def void_action(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda invoice: void_invoice(invoice, reason=f"voided by {request.user.email}"),
            "voided",
        )

    def _apply(self, request, queryset, operation, done: str) -> None:
        count = 0
        for invoice in queryset.order_by("pk"):
            try:
                operation(invoice)
            except BillingError as exc:
                self.message_user(request, f"{invoice}: {exc}", level=messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} invoice(s) {done}.")
