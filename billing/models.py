"""Billing records: hourly usage, the versioned price book, invoices and their lines.

Where the numbers come from (billing/services/rollup.py): cluster lifecycle events
(cluster-hours), topic partition events (partition-hours), the sampler's per-minute rows
(data in/out deltas, storage gauge). Usage records are the roll-up of those sources per
cluster, meter and UTC hour; invoices are the roll-up of usage records per team and month.

Invariants enforced here, in the model layer, and not only by the services:
* a usage record exists once per (cluster, meter, hour) — the roll-up upserts, never adds;
* one live invoice per team and month (a voided one may be replaced);
* an invoice that is finalized, paid or void never changes again, nor do its lines — save(),
  delete() and the querysets' update()/delete() refuse (`FinalizedInvoiceError`). The only
  writes allowed afterwards are the status moves finalized → paid and finalized/paid → void.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from console.errors import Conflict


class Meter(models.TextChoices):
    """The meters (codes and labels); their units and prices: billing/services/price_book.py."""

    CLUSTER_HOURS = "cluster_hours", "Cluster-hours"
    PARTITION_HOURS = "partition_hours", "Partition-hours"
    STORAGE = "storage", "Storage"
    DATA_IN = "data_in", "Data in"
    DATA_OUT = "data_out", "Data out"
    CONNECTOR_HOURS = "connector_hours", "Connector task-hours"


class FinalizedInvoiceError(Conflict):
    """A write to an invoice (or its lines) that is no longer a draft (409)."""

    code = "invoice_finalized"


class UsageRecord(models.Model):
    """What one cluster used of one meter during the UTC hour `[hour_start, hour_start + 1 h)`."""

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.PROTECT, related_name="usage_records"
    )
    meter = models.CharField(max_length=24, choices=Meter.choices)
    hour_start = models.DateTimeField()
    # In the meter's usage unit (`USAGE_UNITS` of the price book). 12 places: a second is
    # 0.000277… h, a byte 9.3e-10 GiB.
    quantity = models.DecimalField(max_digits=28, decimal_places=12)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["hour_start", "cluster_id", "meter"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "meter", "hour_start"], name="usagerecord_unique_hour"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="usagerecord_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["hour_start"], name="usagerecord_hour"),
            models.Index(fields=["updated_at"], name="usagerecord_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} {self.meter} {self.hour_start:%Y-%m-%d %H:00} = {self.quantity}"


class RolledUpHour(models.Model):
    """An hour the roll-up has written usage records for (the task's progress marker)."""

    hour_start = models.DateTimeField(unique=True)
    rolled_up_at = models.DateTimeField()
    records = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["hour_start"]

    def __str__(self) -> str:
        return f"{self.hour_start:%Y-%m-%d %H:00}"


class PriceVersion(models.Model):
    """The unit price of a meter from `effective_from` (00:00 UTC) until the next version."""

    meter = models.CharField(max_length=24, choices=Meter.choices)
    unit_price = models.DecimalField(max_digits=14, decimal_places=6)
    effective_from = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["meter", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "effective_from"], name="priceversion_unique_meter_date"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="priceversion_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter} {self.unit_price} from {self.effective_from}"


class InvoiceQuerySet(models.QuerySet["Invoice"]):
    def update(self, **kwargs):
        allowed = set(kwargs) <= Invoice.POST_FINAL_FIELDS
        if not allowed and self.exclude(status=Invoice.Status.DRAFT).exists():
            raise FinalizedInvoiceError("Finalized invoices cannot be changed.")
        return super().update(**kwargs)

    def delete(self):
        if self.exclude(status=Invoice.Status.DRAFT).exists():
            raise FinalizedInvoiceError("Finalized invoices cannot be deleted.")
        return super().delete()


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINALIZED = "finalized", "Finalized"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    # The only fields a non-draft invoice may still write, each with its allowed moves.
    POST_FINAL_FIELDS = frozenset({"status", "paid_at", "voided_at", "void_reason"})
    _STATUS_MOVES = {
        ("finalized", "paid"),
        ("finalized", "void"),
        ("paid", "void"),
    }

    team = models.ForeignKey("console.Team", on_delete=models.PROTECT, related_name="invoices")
    period = models.DateField(help_text="First day of the billed calendar month (UTC).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    # Usage counted up to this instant (the month's end for a finalized invoice).
    usage_through = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "team_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "period"],
                condition=~models.Q(status="void"),
                name="invoice_one_per_team_month",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft", number__isnull=True)
                | (~models.Q(status="draft") & models.Q(number__isnull=False)),
                name="invoice_number_iff_final",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.team_id} {self.period:%Y-%m}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            stored = (
                Invoice.objects.filter(pk=self.pk)
                .values(*[f.attname for f in self._meta.concrete_fields])
                .first()
            )
            if stored is not None and stored["status"] != self.Status.DRAFT:
                self._check_post_final_write(stored, kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def _check_post_final_write(self, stored: dict, update_fields) -> None:
        changed = {
            f.attname
            for f in self._meta.concrete_fields
            if getattr(self, f.attname) != stored[f.attname]
        }
        if update_fields is not None:
            changed &= set(update_fields)
        if not changed <= self.POST_FINAL_FIELDS:
            fields = ", ".join(sorted(changed - self.POST_FINAL_FIELDS))
            raise FinalizedInvoiceError(
                f"Invoice {stored['number']} is {stored['status']}; {fields} cannot change."
            )
        if "status" in changed and (stored["status"], self.status) not in self._STATUS_MOVES:
            raise FinalizedInvoiceError(
                f"Invoice {stored['number']} cannot go from {stored['status']} to {self.status}."
            )

    def delete(self, *args, **kwargs):
        if not self.is_draft:
            raise FinalizedInvoiceError(f"Invoice {self.number} is {self.status}; keep it.")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class InvoiceLineQuerySet(models.QuerySet["InvoiceLine"]):
    def _guard(self) -> None:
        if self.exclude(invoice__status=Invoice.Status.DRAFT).exists():
            raise FinalizedInvoiceError("Lines of a finalized invoice cannot change.")

    def update(self, **kwargs):
        self._guard()
        return super().update(**kwargs)

    def delete(self):
        self._guard()
        return super().delete()

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        invoice_ids = {o.invoice_id for o in objs}
        if (
            invoice_ids
            and Invoice.objects.filter(pk__in=invoice_ids)
            .exclude(status=Invoice.Status.DRAFT)
            .exists()
        ):
            raise FinalizedInvoiceError("Lines cannot be added to a finalized invoice.")
        return super().bulk_create(objs, *args, **kwargs)


class InvoiceLine(models.Model):
    """One cluster, meter and unit price of an invoice (or a late-usage adjustment)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    cluster_name = models.CharField(max_length=64)
    meter = models.CharField(max_length=24, choices=Meter.choices)
    description = models.CharField(max_length=200)
    # The month the usage belongs to: the invoice's own period, or an earlier one (adjustment).
    usage_period = models.DateField()
    is_adjustment = models.BooleanField(default=False)
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=24)
    unit_price = models.DecimalField(max_digits=14, decimal_places=6)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    price_version = models.ForeignKey(
        PriceVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = InvoiceLineQuerySet.as_manager()

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="invoiceline_unique_position"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.description}: {self.quantity} {self.unit} × {self.unit_price} = {self.amount}"
        )

    def save(self, *args, **kwargs):
        self._guard()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._guard()
        return super().delete(*args, **kwargs)

    def _guard(self) -> None:
        status = Invoice.objects.filter(pk=self.invoice_id).values_list("status", flat=True)
        if status and status[0] != Invoice.Status.DRAFT:
            raise FinalizedInvoiceError("Lines of a finalized invoice cannot change.")


class MonthClose(models.Model):
    """A month whose invoices the close job finalized (started, and finished when complete).

    Usage records of a closed month that change after `started_at` are late usage: they go to
    the team's next invoice as adjustment lines.
    """

    period = models.DateField(unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    invoices_finalized = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"close of {self.period:%Y-%m}"


class InvoiceNumberSequence(models.Model):
    """The last invoice number issued per year; locked while a number is assigned (gap-free)."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"
