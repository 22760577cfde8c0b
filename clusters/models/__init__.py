"""Models of the clusters app, one module per subsystem (add yours and import it here)."""

from clusters.models.access import ManualAclBinding
from clusters.models.clusters import (
    AccessKey,
    Cluster,
    ClusterDraft,
    ClusterEvent,
    PolicyTemplate,
    cluster_name_validator,
)
from clusters.models.fleet import Broker, Cell
from clusters.models.metrics import SamplerCheckpoint, ThroughputSnapshot, TopicMinuteUsage
from clusters.models.topics import Topic, TopicPartitionEvent

__all__ = [
    "AccessKey",
    "Broker",
    "Cell",
    "Cluster",
    "ClusterDraft",
    "ClusterEvent",
    "ManualAclBinding",
    "PolicyTemplate",
    "SamplerCheckpoint",
    "ThroughputSnapshot",
    "Topic",
    "TopicMinuteUsage",
    "TopicPartitionEvent",
    "cluster_name_validator",
]
