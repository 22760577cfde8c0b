"""Guard rails the topic sync applies to each cluster (issue 13): drift repair of topic configs
and the per-cluster partition ceiling.

A tenant key speaks the Kafka protocol directly. On a cell without Skiff's broker policy (a
registered cell, or one started before it) a key can set any topic config and create topics
past the cluster's partition limit. Once per sync period this module:

- compares each topic's DYNAMIC configs with the settable table (fleet/topic_rules.py) and
  reverts what is outside it: an unknown config's override is deleted, an out-of-range value
  goes back to the platform default (set again for `set_at_creation` specs, deleted otherwise),
  a changed `cleanup.policy` goes back to the value the topic was created with. Each repair is
  one audit record (`topic.config_repair`).
- marks a cluster found over its partition limits (fleet/limits.py); while it is marked its
  keys' desired ACLs include DENY CREATE/ALTER bindings (clusters.services.access.reconcile),
  the cluster page says why, and the mark and its removal are audited.

Tenant code: it only ever holds the cluster's `ClusterGateway`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from clusters.models import Cluster, Topic
from console.audit import audit_record
from fleet import limits
from fleet.kafka.reassignments import TOPIC_THROTTLE_KEYS
from fleet.kafka.tenant import ClusterGateway
from fleet.kafka.types import ConfigEntryDescription
from fleet.models import FleetOperation
from fleet.topic_rules import TIMESTAMP_DIFFERENCE, TIMESTAMP_WIRE_NAMES, TOPIC_CONFIGS

logger = logging.getLogger(__name__)

DYNAMIC_TOPIC_CONFIG = "DYNAMIC_TOPIC_CONFIG"


@dataclass(frozen=True)
class ConfigRepair:
    topic: str
    config: str
    found: str | None
    restored: str | None  # None: the override was deleted (the cell's default applies)


def _spec_for(wire_name: str):
    if wire_name in TIMESTAMP_WIRE_NAMES:
        return TOPIC_CONFIGS[TIMESTAMP_DIFFERENCE]
    if wire_name == TIMESTAMP_DIFFERENCE:  # the pre-Kafka-4 name is not a wire name any more
        return None
    return TOPIC_CONFIGS.get(wire_name)


def config_repairs(
    name: str, entries: dict[str, ConfigEntryDescription], *, cleanup_policy: str | None
) -> list[ConfigRepair]:
    """What to change so that the topic's dynamic configs are within the settable table."""
    repairs = []
    for key, entry in sorted(entries.items()):
        if entry.source != DYNAMIC_TOPIC_CONFIG:
            continue
        spec = _spec_for(key)
        if spec is None:
            repairs.append(ConfigRepair(name, key, entry.value, None))
            continue
        try:
            value = spec.validate(entry.value)
        except ValueError:
            restored = spec.default if spec.set_at_creation else None
            repairs.append(ConfigRepair(name, key, entry.value, restored))
            continue
        if spec.create_only and cleanup_policy is not None and value != cleanup_policy:
            repairs.append(ConfigRepair(name, key, entry.value, cleanup_policy))
    return repairs


def cell_rebalancing(cell_id: int) -> bool:
    """Whether a fleet operation moves partitions on the cell now (issue 14): then the
    throttled-replica lists are the platform's; at any other time they are drift."""
    return FleetOperation.objects.filter(
        cell_id=cell_id, state__in=FleetOperation.ACTIVE_STATES
    ).exists()


def repair_topic_configs(
    *,
    cluster: Cluster,
    gw: ClusterGateway,
    rows: dict[str, str] | None = None,
    described: dict[str, dict[str, ConfigEntryDescription]] | None = None,
    rebalancing: bool | None = None,
) -> list[ConfigRepair]:
    """Revert every dynamic topic config of the cluster that is outside the settable table.

    The periodic sync passes what it read once for the whole cell (issue 20): ``rows`` (the
    cluster's topics and their cleanup.policy), ``described`` (their configs, short names) and
    ``rebalancing`` (`cell_rebalancing`); each is read here when not given.
    """
    if cluster.cell_id is None or cluster.state != Cluster.State.ACTIVE:
        return []
    if rows is None:
        rows = dict(Topic.objects.filter(cluster=cluster).values_list("name", "cleanup_policy"))
    if not rows:
        return []
    if described is None:
        described = gw.describe_many_topic_configs(sorted(rows))
    else:
        described = {name: entries for name, entries in described.items() if name in rows}
    if rebalancing is None:
        rebalancing = cell_rebalancing(cluster.cell_id)
    keep = frozenset(TOPIC_THROTTLE_KEYS) if rebalancing else frozenset()
    repairs: list[ConfigRepair] = []
    for name, entries in described.items():
        found = [
            r
            for r in config_repairs(name, entries, cleanup_policy=rows.get(name))
            if r.config not in keep
        ]
        if not found:
            continue
        gw.alter_topic_configs(name, {r.config: r.restored for r in found})
        repairs.extend(found)
        audit_record(
            team=cluster.team,
            action="topic.config_repair",
            target_type="topic",
            target_id=name,
            target_repr=gw.wire_name(name),
            before={r.config: r.found for r in found},
            after={r.config: r.restored for r in found},
        )
        logger.warning(
            "repaired topic %s of %s: %s",
            name,
            cluster,
            ", ".join(f"{r.config}={r.found!r} -> {r.restored!r}" for r in found),
        )
    return repairs


# --- the partition ceiling --------------------------------------------------------------------


def partition_totals(cluster: Cluster) -> tuple[int, int]:
    """(all partitions, partitions of compacted topics) of the cluster, from its Topic rows."""
    topics = Topic.objects.filter(cluster=cluster)
    total = topics.aggregate(n=Sum("partitions"))["n"] or 0
    compacted = (
        topics.filter(cleanup_policy__contains="compact").aggregate(n=Sum("partitions"))["n"] or 0
    )
    return total, compacted


def partition_ceiling_message(total: int, compacted: int) -> str:
    parts = []
    if total > limits.MAX_PARTITIONS:
        parts.append(f"{total:,} partitions (the limit is {limits.MAX_PARTITIONS:,})")
    if compacted > limits.MAX_COMPACTED_PARTITIONS:
        parts.append(
            f"{compacted:,} partitions of compacted topics "
            f"(the limit is {limits.MAX_COMPACTED_PARTITIONS:,})"
        )
    return (
        "This cluster has "
        + " and ".join(parts)
        + ". Its keys cannot create topics or add partitions until topics are deleted."
    )


def over_partition_limits(total: int, compacted: int) -> bool:
    return total > limits.MAX_PARTITIONS or compacted > limits.MAX_COMPACTED_PARTITIONS


def check_partition_ceiling(
    *, cluster: Cluster, totals: tuple[int, int] | None = None
) -> bool | None:
    """Mark or unmark the cluster as over its partition limits.

    Returns True when it was just marked, False when just unmarked, None when nothing changed.
    The caller reconciles the cluster's keys' ACLs when something changed. ``totals`` (what
    `partition_totals` would say, from rows the caller already read) skips the locked re-read
    when they agree with the cluster's mark: the periodic sync's common case (issue 20).
    """
    if totals is not None and over_partition_limits(*totals) == (
        cluster.partitions_over_limit_since is not None
    ):
        return None
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        total, compacted = partition_totals(locked)
        over = over_partition_limits(total, compacted)
        was_over = locked.partitions_over_limit_since is not None
        if over == was_over:
            return None
        locked.partitions_over_limit_since = timezone.now() if over else None
        locked.save(update_fields=["partitions_over_limit_since", "updated_at"])
        cluster.partitions_over_limit_since = locked.partitions_over_limit_since
        audit_record(
            team=cluster.team,
            action="cluster.partition_limit_exceeded" if over else "cluster.partition_limit_ok",
            target=locked,
            after={
                "partitions": total,
                "compacted_partitions": compacted,
                "limit": limits.MAX_PARTITIONS,
                "compacted_limit": limits.MAX_COMPACTED_PARTITIONS,
                "keys_may_create": not over,
            },
        )
    logger.warning(
        "cluster %s is %s its partition limits (%d partitions, %d compacted)",
        cluster,
        "over" if over else "back under",
        total,
        compacted,
    )
    return over
