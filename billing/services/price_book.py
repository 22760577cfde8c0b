"""The price book, in one module: meters and their units, the default prices, the versioned
unit prices and the lookups that price usage with them, and the staff's changes to them.

Meters: the codes are `billing.models.Meter` (the model fields' choices); their units, order,
labels and default prices are declared here, once (`METERS`).

Versions: a version applies from 00:00 UTC of its `effective_from` day until the next version
of the same meter. A version whose day has come is *in effect* (or was): hours have been, or
are being, charged at its price, so it never changes — a new price is a new version dated
today or later. Only versions still *scheduled* (a day after today) may be changed or withdrawn.
Every change is recorded in the audit log (platform-wide: no team).

Defaults: migration 0002 seeds `DEFAULT_PRICES` (a frozen copy, so that migrating means the
same thing forever; a test checks that the copy and this module agree). Lookups never write: an
empty price book is a `PriceBookEmptyError`, not a silent reseed. `price_book_seed_defaults`
restores the defaults for an emptied table: tests call it from a fixture (pytest-django
flushes the tables after a transactional test), operators with `manage.py seed_price_book`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.errors import BillingError, PriceBookEmptyError
from billing.models import Meter, PriceVersion
from console.audit import audit_record

# --- meters and units ------------------------------------------------------------------------


class MeterSpec(NamedTuple):
    """How a meter is measured and billed, and its default price (per billing unit, USD)."""

    usage_unit: str  # of a usage record's quantity
    billing_unit: str  # of an invoice line's quantity: what the price is per
    default_price: Decimal


# Storage is metered in GiB-hours and billed per GiB-month; the others bill what they meter.
# Default prices: Amazon MSK Serverless list prices, us-east-1, except cluster-hours: the
# service promises no hourly charge for idle brokers, so they are free by default (the meter
# stays and is shown; a platform may set a floor in the price book). Migration 0003 moved
# installations still on the seeded 0.75 to 0.
METERS: dict[str, MeterSpec] = {
    Meter.CLUSTER_HOURS: MeterSpec("hour", "hour", Decimal("0")),
    Meter.PARTITION_HOURS: MeterSpec("partition-hour", "partition-hour", Decimal("0.0015")),
    Meter.STORAGE: MeterSpec("GiB-hour", "GiB-month", Decimal("0.10")),
    Meter.DATA_IN: MeterSpec("GiB", "GiB", Decimal("0.10")),
    Meter.DATA_OUT: MeterSpec("GiB", "GiB", Decimal("0.05")),
    # Managed Connect (issue 19): a running connector task for an hour, priced like one MSK
    # Connect MCU-hour (us-east-1). Seeded by migration 0004.
    Meter.CONNECTOR_HOURS: MeterSpec("task-hour", "task-hour", Decimal("0.11")),
}
# Meters whose invoice line is left out while a cluster did not use them (most clusters run
# no connector); the others always show, at zero when unused.
OPTIONAL_METERS: frozenset[str] = frozenset({Meter.CONNECTOR_HOURS})
METER_ORDER: tuple[str, ...] = tuple(Meter.values)  # lines, columns and exports in this order
METER_LABELS: dict[str, str] = dict(Meter.choices)
USAGE_UNITS: dict[str, str] = {meter: spec.usage_unit for meter, spec in METERS.items()}
BILLING_UNITS: dict[str, str] = {meter: spec.billing_unit for meter, spec in METERS.items()}

# PriceVersion.unit_price is DecimalField(max_digits=14, decimal_places=6).
PRICE_PLACES = 6
PRICE_MAX_WHOLE_DIGITS = 8
NOTE_MAX_LENGTH = 200


# --- default prices --------------------------------------------------------------------------

DEFAULT_PRICES: dict[str, Decimal] = {meter: spec.default_price for meter, spec in METERS.items()}
DEFAULT_PRICES_EFFECTIVE_FROM = dt.date(2022, 1, 1)
DEFAULT_PRICES_NOTE = "MSK Serverless, us-east-1"
DEFAULT_PRICE_NOTES: dict[str, str] = {
    Meter.CLUSTER_HOURS: "No hourly charge for clusters (a platform may set a floor)",
    Meter.CONNECTOR_HOURS: "MSK Connect, us-east-1, one task = one MCU",
}

EMPTY_PRICE_BOOK_MESSAGE = (
    "The price book has no prices, so usage cannot be priced. Platform staff: restore the "
    "default prices (manage.py seed_price_book) or add prices on the Price book page."
)


def price_book_seed_defaults() -> int:
    """Add the default versions that are missing, as the migration seeds them; how many.

    Changes nothing when they are there (one query). Not audited: it restores the state every
    database starts from, it does not change a price.
    """
    present = set(
        PriceVersion.objects.filter(effective_from=DEFAULT_PRICES_EFFECTIVE_FROM).values_list(
            "meter", flat=True
        )
    )
    missing = [
        PriceVersion(
            meter=meter,
            unit_price=unit_price,
            effective_from=DEFAULT_PRICES_EFFECTIVE_FROM,
            note=DEFAULT_PRICE_NOTES.get(meter, DEFAULT_PRICES_NOTE),
        )
        for meter, unit_price in DEFAULT_PRICES.items()
        if meter not in present
    ]
    if missing:
        PriceVersion.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


# --- lookups (read only) ---------------------------------------------------------------------


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def is_in_effect(version: PriceVersion, *, today: dt.date | None = None) -> bool:
    """Whether hours have been charged at this version (its first day has come)."""
    return version.effective_from <= (today or utc_today())


@dataclass
class PriceBook:
    """Every price version, by meter, oldest first (loaded once per computation).

    The lookups (`at`, `segments`) raise `PriceBookEmptyError` when there are no prices at all,
    and `BillingError` when a meter has no price yet on the day asked for.
    """

    versions: dict[str, list[PriceVersion]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> PriceBook:
        book = cls()
        for version in PriceVersion.objects.order_by("meter", "effective_from"):
            book.versions.setdefault(version.meter, []).append(version)
        return book

    @cached_property
    def by_pk(self) -> dict[int, PriceVersion]:
        return {v.pk: v for versions in self.versions.values() for v in versions}

    def at(self, meter: str, moment: dt.datetime) -> PriceVersion:
        """The version of `meter` in effect at `moment` (prices change at 00:00 UTC)."""
        if not self.versions:
            raise PriceBookEmptyError(EMPTY_PRICE_BOOK_MESSAGE)
        day = moment.astimezone(dt.UTC).date()
        found = None
        for version in self.versions.get(meter, []):
            if version.effective_from <= day:
                found = version
        if found is None:
            raise BillingError(f"The price book has no price for {METER_LABELS[meter]} on {day}.")
        return found

    def segments(
        self, meter: str, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[dt.datetime, dt.datetime, PriceVersion]]:
        """`[start, end)` cut where a new price takes effect (00:00 UTC of its date)."""
        cuts = [start]
        for version in self.versions.get(meter, []):
            at = dt.datetime.combine(version.effective_from, dt.time(), tzinfo=dt.UTC)
            if start < at < end:
                cuts.append(at)
        cuts.append(end)
        return [(lo, hi, self.at(meter, lo)) for lo, hi in itertools.pairwise(cuts)]


@dataclass(frozen=True)
class PricedVersion:
    version: PriceVersion
    state: str  # "current" | "superseded" | "scheduled"

    @property
    def editable(self) -> bool:
        return self.state == "scheduled"


@dataclass(frozen=True)
class MeterPrices:
    meter: str
    label: str
    unit: str
    current: PriceVersion | None
    versions: list[PricedVersion]  # newest first


def price_book(*, today: dt.date | None = None) -> list[MeterPrices]:
    """Every meter with its versions (newest first) and the one in effect today.

    An empty price book is listed as it is (meters without versions), so staff see it.
    """
    today = today or utc_today()
    by_meter: dict[str, list[PriceVersion]] = {meter: [] for meter in Meter.values}
    for version in PriceVersion.objects.select_related("created_by").order_by(
        "meter", "effective_from"
    ):
        by_meter.setdefault(version.meter, []).append(version)
    book = []
    for meter, label in Meter.choices:
        versions = by_meter.get(meter, [])
        started = [v for v in versions if v.effective_from <= today]
        current = started[-1] if started else None
        priced = [
            PricedVersion(
                version=v,
                state="scheduled"
                if v.effective_from > today
                else ("current" if v is current else "superseded"),
            )
            for v in reversed(versions)
        ]
        book.append(
            MeterPrices(
                meter=meter,
                label=label,
                unit=BILLING_UNITS[meter],
                current=current,
                versions=priced,
            )
        )
    return book


# --- staff changes ---------------------------------------------------------------------------


def _clean_unit_price(value) -> Decimal:
    try:
        price = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(
            {"unit_price": "Enter the unit price as a number in USD, e.g. 0.75."}
        ) from exc
    if not price.is_finite():
        raise ValidationError({"unit_price": "Enter the unit price as a number in USD, e.g. 0.75."})
    if price < 0:
        raise ValidationError({"unit_price": "A unit price cannot be negative (0 makes it free)."})
    exponent = price.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PRICE_PLACES:
        raise ValidationError(
            {"unit_price": f"Use at most {PRICE_PLACES} decimal places (e.g. 0.001500)."}
        )
    if price >= Decimal(10) ** PRICE_MAX_WHOLE_DIGITS:
        raise ValidationError(
            {"unit_price": f"A unit price must be below {10**PRICE_MAX_WHOLE_DIGITS:,} USD."}
        )
    return price.quantize(Decimal(1).scaleb(-PRICE_PLACES))


@dataclass(frozen=True)
class CleanPrice:
    meter: str
    unit_price: Decimal
    effective_from: dt.date
    note: str


def clean_price_version(
    *,
    meter: str,
    unit_price,
    effective_from,
    note: str = "",
    today: dt.date | None = None,
    version: PriceVersion | None = None,
) -> CleanPrice:
    """Check a new version (or a change to the scheduled `version`); ValidationError per field.

    Used by the services below and by the admin form, so both say the same thing.
    """
    today = today or utc_today()
    if version is not None:
        _refuse_if_in_effect(version, today, "changed")
        meter = version.meter
    errors: dict[str, str] = {}
    if meter not in Meter.values:
        errors["meter"] = "Choose one of: " + ", ".join(label for _, label in Meter.choices) + "."
    price = Decimal(0)  # the cleaned price, or an error below
    try:
        price = _clean_unit_price(unit_price)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if not isinstance(effective_from, dt.date) or isinstance(effective_from, dt.datetime):
        errors["effective_from"] = "Enter the first day of the new price as YYYY-MM-DD."
    elif effective_from < today:
        errors["effective_from"] = (
            f"Choose today ({today:%Y-%m-%d}, UTC) or a later day: hours already charged "
            "keep the price they were charged at."
        )
    elif meter in Meter.values:
        clash = PriceVersion.objects.filter(meter=meter, effective_from=effective_from)
        if version is not None:
            clash = clash.exclude(pk=version.pk)
        if clash.exists():
            errors["effective_from"] = _duplicate_message(meter, effective_from)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        errors["note"] = f"Keep the note to {NOTE_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)
    return CleanPrice(meter=meter, unit_price=price, effective_from=effective_from, note=note)


def _duplicate_message(meter: str, day: dt.date) -> str:
    return (
        f"{Meter(meter).label} already has a version from {day:%Y-%m-%d}. "
        "Withdraw that version (if still scheduled) or pick another day."
    )


def _duplicate_error(meter: str, day: dt.date) -> ValidationError:
    return ValidationError({"effective_from": _duplicate_message(meter, day)})


def _audit_values(version: PriceVersion) -> dict:
    return {
        "meter": version.meter,
        "unit_price": str(version.unit_price),
        "effective_from": version.effective_from.isoformat(),
        "note": version.note,
    }


def price_version_create(
    *,
    meter: str,
    unit_price,
    effective_from: dt.date,
    note: str = "",
    created_by=None,
    today: dt.date | None = None,
) -> PriceVersion:
    """Add a price for a meter from a day (today or later). Raises ValidationError per field."""
    clean = clean_price_version(
        meter=meter, unit_price=unit_price, effective_from=effective_from, note=note, today=today
    )
    try:
        with transaction.atomic():
            version = PriceVersion.objects.create(
                meter=clean.meter,
                unit_price=clean.unit_price,
                effective_from=clean.effective_from,
                note=clean.note,
                created_by=created_by if created_by and created_by.pk else None,
            )
            audit_record(
                team=None, action="price.create", target=version, after=_audit_values(version)
            )
    except IntegrityError as exc:  # a concurrent add for the same day won the race
        raise _duplicate_error(clean.meter, clean.effective_from) from exc
    return version


def _refuse_if_in_effect(version: PriceVersion, today: dt.date, verb: str) -> None:
    if is_in_effect(version, today=today):
        raise ValidationError(
            f"The {Meter(version.meter).label} price of {version.unit_price} USD has been in "
            f"effect since {version.effective_from:%Y-%m-%d} and cannot be {verb}. "
            "Add a new version from today or a later day instead."
        )


def price_version_update(
    *,
    version: PriceVersion,
    unit_price,
    effective_from: dt.date,
    note: str = "",
    today: dt.date | None = None,
) -> PriceVersion:
    """Change a scheduled version (not yet in effect); a version in effect is refused."""
    today = today or utc_today()
    try:
        with transaction.atomic():
            version = PriceVersion.objects.select_for_update().get(pk=version.pk)
            clean = clean_price_version(
                meter=version.meter,
                unit_price=unit_price,
                effective_from=effective_from,
                note=note,
                today=today,
                version=version,
            )
            before = _audit_values(version)
            version.unit_price = clean.unit_price
            version.effective_from = clean.effective_from
            version.note = clean.note
            version.save(update_fields=["unit_price", "effective_from", "note"])
            audit_record(
                team=None,
                action="price.update",
                target=version,
                before=before,
                after=_audit_values(version),
            )
    except IntegrityError as exc:
        raise _duplicate_error(version.meter, effective_from) from exc
    return version


def price_version_delete(*, version: PriceVersion, today: dt.date | None = None) -> None:
    """Withdraw a scheduled version; a version in effect is refused."""
    today = today or utc_today()
    with transaction.atomic():
        version = PriceVersion.objects.select_for_update().get(pk=version.pk)
        _refuse_if_in_effect(version, today, "withdrawn")
        audit_record(
            team=None, action="price.delete", target=version, before=_audit_values(version)
        )
        version.delete()
