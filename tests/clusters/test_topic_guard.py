"""The drift rules of clusters.services.topic_guard, without a cell."""

from clusters.services.topic_guard import ConfigRepair, config_repairs
from fleet import limits
from fleet.kafka.types import ConfigEntryDescription


def entry(name: str, value: str, source: str = "DYNAMIC_TOPIC_CONFIG") -> ConfigEntryDescription:
    return ConfigEntryDescription(name, value, source, False, False, False)


def test_only_dynamic_configs_outside_the_table_are_reverted():
    entries = {
        e.name: e
        for e in (
            entry("segment.ms", "1"),  # not settable: the override goes
            entry("min.insync.replicas", "1"),
            entry("flush.messages", "1", source="STATIC_BROKER_CONFIG"),  # not the topic's
            entry("retention.ms", "3600000"),  # legal: kept
            entry("retention.bytes", "-5"),  # out of range, set at creation: the default
            entry("max.message.bytes", str(100 * 1024 * 1024)),  # over 8 MiB: the override goes
            entry("message.timestamp.before.max.ms", "60000"),  # the pseudo-config's wire names
            entry("message.timestamp.after.max.ms", "-1"),
            entry("cleanup.policy", "compact"),  # create-only: what the topic was made with
        )
    }
    repairs = config_repairs("t", entries, cleanup_policy="delete")
    assert repairs == [
        ConfigRepair("t", "cleanup.policy", "compact", "delete"),
        ConfigRepair("t", "max.message.bytes", str(100 * 1024 * 1024), None),
        ConfigRepair("t", "message.timestamp.after.max.ms", "-1", None),
        ConfigRepair("t", "min.insync.replicas", "1", None),
        ConfigRepair("t", "retention.bytes", "-5", str(250 * 1024**3)),
        ConfigRepair("t", "segment.ms", "1", None),
    ]


def test_max_partitions_per_request_is_within_the_cell_and_the_cluster_limit():
    assert limits.max_partitions_per_request(brokers=3, partitions_per_broker=4000) == 2400
    assert limits.max_partitions_per_request(brokers=3, partitions_per_broker=1000) == 1000
    assert limits.max_partitions_per_request(brokers=1, partitions_per_broker=500) == 500
