"""Models of the clusters app, one module per subsystem (add yours and import it here)."""

from clusters.models.clusters import (
    AccessKey,
    Cluster,
    ClusterDraft,
    ClusterEvent,
    PolicyTemplate,
    cluster_name_validator,
)
from clusters.models.fleet import Broker, Cell

__all__ = [
    "AccessKey",
    "Broker",
    "Cell",
    "Cluster",
    "ClusterDraft",
    "ClusterEvent",
    "PolicyTemplate",
    "cluster_name_validator",
]
