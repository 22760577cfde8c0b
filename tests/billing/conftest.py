"""Fixtures of the billing tests."""

from decimal import Decimal

import pytest

from billing.models import Meter, PriceVersion
from billing.services.price_book import DEFAULT_PRICES_EFFECTIVE_FROM

MSK_CLUSTER_HOUR = Decimal("0.75")


@pytest.fixture
def cluster_hour_floor():
    """A platform that charges a floor for cluster-hours (Skiff's default is 0): MSK
    Serverless's 0.75 per hour, the price the hand-computed golden invoices were written at."""
    PriceVersion.objects.filter(
        meter=Meter.CLUSTER_HOURS, effective_from=DEFAULT_PRICES_EFFECTIVE_FROM
    ).update(unit_price=MSK_CLUSTER_HOUR)
    return MSK_CLUSTER_HOUR
