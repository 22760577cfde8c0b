"""Default unit prices: Amazon MSK Serverless, us-east-1 (reference/msk-serverless.md).

The versioned price book (billing issue) is seeded from these; money is always Decimal.
"""

from decimal import Decimal
from typing import NamedTuple


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
