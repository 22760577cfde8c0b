"""The periodic topic sync: one metadata read per cell, then every active cluster compared.

Its requests and queries per pass do not grow with the cell's clusters (issue 20): one
listing, one read of the Topic rows, configs in batches of CONFIG_BATCH topics (at most
SKIFF_DRIFT_TOPICS_PER_PASS topics a pass, in turn: `_config_turn`); per cluster only work for
what changed.

Platform code: it reads a whole cell with the platform's super-user client, then hands each
cluster only its own topics, scoped and shortened by that cluster's `ClusterGateway`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from clusters.models import Cluster, Topic
from clusters.services.access.reconcile import reconcile_cluster_keys
from clusters.services.cells import cluster_cell
from clusters.services.topic_guard import (
    DYNAMIC_TOPIC_CONFIG,
    cell_rebalancing,
    check_partition_ceiling,
    repair_topic_configs,
)
from clusters.services.topics import SyncResult, cluster_gateway, sync_topics
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import PlatformSuperuser, platform_superuser
from fleet.kafka.tenant import ClusterGateway
from fleet.kafka.types import ConfigEntryDescription, TopicDescription

logger = logging.getLogger(__name__)


# Topics per DescribeConfigs request of the sync's bulk config read: a cell of thousands of
# topics is read in a few requests of a bounded size, not one per cluster.
CONFIG_BATCH = 500


@dataclass
class _Known:
    """A cluster's Topic rows as the sync compares them: name -> (partitions, RF, policy)."""

    topics: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def same_as(self, metadata: dict[str, TopicDescription]) -> bool:
        if metadata.keys() != self.topics.keys():
            return False
        return all(
            (len(d.partitions), d.replication_factor) == self.topics[name][:2]
            for name, d in metadata.items()
        )

    def totals(self) -> tuple[int, int]:
        total = sum(p for p, _rf, _policy in self.topics.values())
        compacted = sum(p for p, _rf, policy in self.topics.values() if "compact" in policy)
        return total, compacted


def sync_all_topics(clusters: Iterable[Cluster] | None = None) -> dict[int, SyncResult]:
    """The periodic job: per cell, one metadata read, one read of its clusters' Topic rows and
    one bulk config read (CONFIG_BATCH topics per request), then each active cluster compared.

    Its cost per cluster is a comparison in memory (issue 20): only a cluster whose topics
    differ from its rows goes through `sync_topics`' locked path, only a cluster whose
    partition ceiling changes is locked for it, and only a drifted topic config is written.
    """
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
        superuser = platform_superuser(cell)
        try:
            read_at = timezone.now()
            listing = superuser.list_topics()
        except KafkaGatewayError as exc:
            logger.warning("topic sync skipped cell %s: %s", cell.name, exc.message)
            continue
        # The listing split by cluster prefix once (`team.cluster.`: neither part has a dot),
        # not scanned whole for each cluster.
        by_prefix: dict[str, dict[str, TopicDescription]] = defaultdict(dict)
        for wire, described in listing.items():
            parts = wire.split(".", 2)
            if len(parts) == 3 and all(parts):
                by_prefix[f"{parts[0]}.{parts[1]}."][wire] = described
        known: dict[int, _Known] = defaultdict(_Known)
        for cluster_id, name, partitions, rf, policy in Topic.objects.filter(
            cluster_id__in=[c.pk for c in members]
        ).values_list("cluster_id", "name", "partitions", "replication_factor", "cleanup_policy"):
            known[cluster_id].topics[name] = (partitions, rf, policy)
        wanted = [w for c in members for w in by_prefix.get(c.wire_prefix, {})]
        configs = _cell_topic_configs(superuser, _config_turn(cell.pk, wanted), cell.name)
        rebalancing = cell_rebalancing(cell.pk)
        for cluster in members:
            gw = cluster_gateway(cluster)
            own = by_prefix.get(cluster.wire_prefix, {})  # its topics only, by wire name
            metadata = gw.scope_topics(own)
            rows = known[cluster.pk]
            unchanged = rows.same_as(metadata)
            if unchanged:
                results[cluster.pk] = SyncResult()
            else:
                try:
                    results[cluster.pk] = sync_topics(
                        cluster=cluster, gw=gw, metadata=metadata, read_at=read_at
                    )
                except KafkaGatewayError as exc:
                    logger.warning("topic sync of %s failed: %s", cluster, exc.message)
                    continue
            guard_cluster(
                cluster,
                gw,
                # A cluster the sync just changed reads its rows again; the others' are current.
                rows={n: t[2] for n, t in rows.topics.items()} if unchanged else None,
                totals=rows.totals() if unchanged else None,
                described=(
                    None
                    if configs is None
                    else gw.scope_topic_configs({w: configs[w] for w in own if w in configs})
                ),
                rebalancing=rebalancing,
            )
    return results


def _config_turn(cell_id: int, names: list[str]) -> list[str]:
    """The topics whose configs this pass checks: all of them up to
    SKIFF_DRIFT_TOPICS_PER_PASS, else that many in turn, the next slice each pass.

    Reading a topic's configs costs the console ~0.6 ms of CPU (Kafka answers every config of
    the topic), so at 5,000 topics a full read every 30 s was the console's largest periodic
    cost, and it slowed creates that ran beside it (issue 20, bench/density.py). In turn, the
    cost stays flat and every topic is still checked every ceil(topics / per pass) passes.
    """
    per_pass = settings.SKIFF_DRIFT_TOPICS_PER_PASS
    if len(names) <= per_pass:
        return names
    turns = -(-len(names) // per_pass)
    key = f"topic-sync:config-turn:{cell_id}"
    store = caches["lists"]  # shared by the processes (Redis) where there are several
    try:
        turn = store.incr(key)
    except ValueError:  # not stored yet (or evicted): start over
        store.set(key, 0, timeout=None)
        turn = 0
    start = (turn % turns) * per_pass
    return sorted(names)[start : start + per_pass]


def _cell_topic_configs(
    superuser: PlatformSuperuser, names: list[str], cell_name: str
) -> dict[str, dict[str, ConfigEntryDescription]] | None:
    """Every named topic's configs, CONFIG_BATCH per request; None when the cell did not
    answer (each cluster then reads its own, as before)."""
    out: dict[str, dict[str, ConfigEntryDescription]] = {}
    try:
        for start in range(0, len(names), CONFIG_BATCH):
            out.update(
                superuser.describe_many_topic_configs(
                    # The guard repairs dynamic overrides only: the defaults are not kept.
                    names[start : start + CONFIG_BATCH],
                    sources=(DYNAMIC_TOPIC_CONFIG,),
                )
            )
    except KafkaGatewayError as exc:
        logger.warning("topic configs of cell %s not read: %s", cell_name, exc.message)
        return None
    return out


def guard_cluster(
    cluster: Cluster,
    gw: ClusterGateway,
    *,
    rows: dict[str, str] | None = None,
    totals: tuple[int, int] | None = None,
    described: dict[str, dict[str, ConfigEntryDescription]] | None = None,
    rebalancing: bool | None = None,
) -> None:
    """Issue 13's guard rails, once per sync period: config drift and the partition ceiling.
    The keyword arguments are what the sync already read for the whole cell (see
    `repair_topic_configs` and `check_partition_ceiling`); each is read here when not given."""
    try:
        repair_topic_configs(
            cluster=cluster, gw=gw, rows=rows, described=described, rebalancing=rebalancing
        )
    except KafkaGatewayError as exc:
        logger.warning("config drift repair of %s failed: %s", cluster, exc.message)
    if check_partition_ceiling(cluster=cluster, totals=totals) is not None:
        try:
            reconcile_cluster_keys(cluster)
        except KafkaGatewayError as exc:
            # The periodic access reconcile puts the DENY bindings right on its next pass.
            logger.warning("applying the partition ceiling to %s failed: %s", cluster, exc.message)
