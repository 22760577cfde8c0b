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
from clusters.models.connectors import Connector, ConnectorTaskEvent
from clusters.models.topics import Topic, TopicPartitionEvent

__all__ = [
    "AccessKey",
    "Cluster",
    "ClusterDraft",
    "ClusterEvent",
    "Connector",
    "ConnectorTaskEvent",
    "ManualAclBinding",
    "PolicyTemplate",
    "Topic",
    "TopicPartitionEvent",
    "cluster_name_validator",
]
