"""`ClusterGateway.scope_topic_configs`: the periodic sync reads a whole cell's topic configs
once and hands each cluster its own (issue 20); a cluster gets only names under its prefix,
shortened, whatever the cell's listing holds."""

from dataclasses import dataclass

from fleet.kafka.tenant import ClusterGateway
from fleet.kafka.types import ConfigEntryDescription


@dataclass
class Scope:
    wire_prefix: str
    cell: None = None


def entry(value: str) -> dict[str, ConfigEntryDescription]:
    return {
        "retention.ms": ConfigEntryDescription(
            name="retention.ms",
            value=value,
            source="DYNAMIC_TOPIC_CONFIG",
            is_default=False,
            is_read_only=False,
            is_sensitive=False,
        )
    }


def test_a_cluster_gets_only_its_own_topics_configs_with_short_names():
    cell_wide = {
        "acme.orders.payments": entry("1"),
        "acme.orders.audit": entry("2"),
        "acme.orders": entry("3"),  # the prefix without its dot: another cluster's namespace
        "acme.ordersx.payments": entry("4"),
        "other.orders.payments": entry("5"),
        "__consumer_offsets": entry("6"),
        "acme.orders.": entry("7"),  # the prefix alone names nothing
    }
    gw = ClusterGateway(Scope("acme.orders."))
    assert gw.scope_topic_configs(cell_wide) == {
        "payments": entry("1"),
        "audit": entry("2"),
    }
    assert gw.scope_topic_configs({}) == {}
