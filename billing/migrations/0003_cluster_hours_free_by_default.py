"""Cluster-hours are free by default (issue 16): the service Skiff reproduces charges for data
in and out, partition-hours and storage, and promises no hourly charge for idle brokers.

The meter stays, is measured and shown; a platform may set a floor in the price book. This
changes an installation only while its cluster-hour price is still the one 0002 seeded: exactly
one cluster-hours version, dated 2022-01-01, at 0.75, added by no one. A price that staff set
(or a seed already changed) is left as it is. Finalized invoices keep their lines; drafts are
priced again when they are next computed.
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

EFFECTIVE_FROM = dt.date(2022, 1, 1)
SEEDED = Decimal("0.75")
NEW = Decimal("0")
NOTE = "No hourly charge for clusters (a platform may set a floor)"
SEED_NOTE = "MSK Serverless, us-east-1"


def _the_seed_if_untouched(apps, price: Decimal):
    PriceVersion = apps.get_model("billing", "PriceVersion")
    versions = list(PriceVersion.objects.filter(meter="cluster_hours"))
    if len(versions) != 1:
        return None
    version = versions[0]
    untouched = (
        version.effective_from == EFFECTIVE_FROM
        and version.created_by_id is None
        and version.unit_price == price
    )
    return version if untouched else None


def free_cluster_hours(apps, schema_editor):
    version = _the_seed_if_untouched(apps, SEEDED)
    if version is not None:
        version.unit_price = NEW
        version.note = NOTE
        version.save(update_fields=["unit_price", "note"])


def back_to_the_seed(apps, schema_editor):
    version = _the_seed_if_untouched(apps, NEW)
    if version is not None:
        version.unit_price = SEEDED
        version.note = SEED_NOTE
        version.save(update_fields=["unit_price", "note"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_seed_price_book")]

    operations = [migrations.RunPython(free_cluster_hours, back_to_the_seed)]
