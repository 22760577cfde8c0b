"""The periodic topic sync: one metadata read per cell, then every active cluster compared.

Platform code: it reads a whole cell with the platform's super-user client, then hands each
cluster only its own topics, scoped and shortened by that cluster's `ClusterGateway`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.utils import timezone

from clusters.models import Cluster
from clusters.services.access.reconcile import reconcile_cluster_keys
from clusters.services.cells import cluster_cell
from clusters.services.topic_guard import check_partition_ceiling, repair_topic_configs
from clusters.services.topics import SyncResult, cluster_gateway, sync_topics
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import platform_superuser
from fleet.kafka.tenant import ClusterGateway

logger = logging.getLogger(__name__)


def sync_all_topics(clusters: Iterable[Cluster] | None = None) -> dict[int, SyncResult]:
    """The periodic job: one metadata read per cell, then each active cluster compared."""
    if clusters is None:
        clusters = Cluster.objects.filter(
            state=Cluster.State.ACTIVE, cell__isnull=False
        ).select_related("team", "cell")
    by_cell: dict[int | None, list[Cluster]] = {}
    for cluster in clusters:
        by_cell.setdefault(cluster.cell_id, []).append(cluster)
    results: dict[int, SyncResult] = {}
    for members in by_cell.values():
        cell = cluster_cell(members[0])
        try:
            read_at = timezone.now()
            listing = platform_superuser(cell).list_topics()
        except KafkaGatewayError as exc:
            logger.warning("topic sync skipped cell %s: %s", cell.name, exc.message)
            continue
        for cluster in members:
            gw = cluster_gateway(cluster)
            try:
                results[cluster.pk] = sync_topics(
                    cluster=cluster,
                    gw=gw,
                    metadata=gw.scope_topics(listing),
                    read_at=read_at,
                )
            except KafkaGatewayError as exc:
                logger.warning("topic sync of %s failed: %s", cluster, exc.message)
                continue
            guard_cluster(cluster, gw)
    return results


def guard_cluster(cluster: Cluster, gw: ClusterGateway) -> None:
    """Issue 13's guard rails, once per sync period: config drift and the partition ceiling."""
    try:
        repair_topic_configs(cluster=cluster, gw=gw)
    except KafkaGatewayError as exc:
        logger.warning("config drift repair of %s failed: %s", cluster, exc.message)
    if check_partition_ceiling(cluster=cluster) is not None:
        try:
            reconcile_cluster_keys(cluster)
        except KafkaGatewayError as exc:
            # The periodic access reconcile puts the DENY bindings right on its next pass.
            logger.warning("applying the partition ceiling to %s failed: %s", cluster, exc.message)
