"""Seed the price book with the MSK Serverless us-east-1 prices.

A frozen copy of `DEFAULT_PRICES` of billing/services/price_book.py (literals, not imported) so
that the migration means the same thing forever; tests/billing/test_price_book.py checks that
the two agree. Later price changes are new versions added in the price book.
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

EFFECTIVE_FROM = dt.date(2022, 1, 1)
PRICES = {
    "cluster_hours": Decimal("0.75"),
    "partition_hours": Decimal("0.0015"),
    "storage": Decimal("0.10"),
    "data_in": Decimal("0.10"),
    "data_out": Decimal("0.05"),
}


def seed(apps, schema_editor):
    PriceVersion = apps.get_model("billing", "PriceVersion")
    for meter, unit_price in PRICES.items():
        PriceVersion.objects.get_or_create(
            meter=meter,
            effective_from=EFFECTIVE_FROM,
            defaults={"unit_price": unit_price, "note": "MSK Serverless, us-east-1"},
        )


def unseed(apps, schema_editor):
    apps.get_model("billing", "PriceVersion").objects.filter(
        effective_from=EFFECTIVE_FROM, created_by__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_usage_prices_invoices")]

    operations = [migrations.RunPython(seed, unseed)]
