"""Default unit prices: Amazon MSK Serverless, us-east-1 (reference/msk-serverless.md).

The versioned price book (billing issue) is seeded from these; money is always Decimal.
"""

import datetime as dt
import logging
from decimal import Decimal
from typing import NamedTuple

logger = logging.getLogger(__name__)


class Meter(NamedTuple):
    code: str
    label: str
    unit: str
    unit_price: Decimal


DEFAULT_METERS: tuple[Meter, ...] = (
    Meter("cluster_hours", "Cluster-hours", "hour", Decimal("0.75")),
    Meter("partition_hours", "Partition-hours", "partition-hour", Decimal("0.0015")),
    Meter("storage", "Storage", "GiB-month", Decimal("0.10")),
    Meter("data_in", "Data in", "GiB", Decimal("0.10")),
    Meter("data_out", "Data out", "GiB", Decimal("0.05")),
)

# The first versions of the price book (the migration seeds the same, as literals).
DEFAULT_PRICES_EFFECTIVE_FROM = dt.date(2022, 1, 1)


def ensure_default_price_book() -> bool:
    """Seed the default versions if the price book is empty; True if it was.

    The migration seeds them; an emptied table (a test database flushed between tests, a
    restore without that data) would otherwise make every page that prices usage fail.
    """
    from billing.models import PriceVersion

    if PriceVersion.objects.exists():
        return False
    logger.warning("the price book was empty: seeding the default prices")
    for meter in DEFAULT_METERS:
        PriceVersion.objects.get_or_create(
            meter=meter.code,
            effective_from=DEFAULT_PRICES_EFFECTIVE_FROM,
            defaults={"unit_price": meter.unit_price, "note": "MSK Serverless, us-east-1"},
        )
    return True
