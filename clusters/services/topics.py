"""Topics of a serverless cluster: create, change, purge, delete, list fast, and sync.

Users give short names (`orders`); on the wire every topic is `<team>.<cluster>.<name>`. Limits
and configuration bounds are checked before any broker call, and every change is recorded for
billing (`TopicPartitionEvent`) and the audit trail in the same transaction.

The topic list reads the cell in bulk (one metadata request, two ListOffsets rounds and one
DescribeLogDirs per broker for the whole cluster). That read happens in the background
(`refresh_topic_snapshot`, from `clusters.tasks.refresh_lists_task`); a request serves the
stored snapshot (clusters/services/list_cache.py) and says when it was read. Changes made here
patch the stored snapshot and mark it stale, so the next refresh reads it again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Abs
from django.utils import timezone

from clusters.models import Cluster, Topic, TopicPartitionEvent
from clusters.services import list_cache
from clusters.services.capacity import cell_replication_factor, check_cell_capacity
from clusters.services.cells import cluster_cell
from clusters.services.consumer_groups import TopicGroupLag, topic_consumer_groups
from clusters.services.paging import PageNumbers
from console.audit import audit_record
from console.errors import NotFound, ValidationFailed
from fleet import limits
from fleet.kafka.errors import InvalidKafkaRequest, KafkaGatewayError, TopicAlreadyExists
from fleet.kafka.tenant import ClusterGateway
from fleet.kafka.types import ConfigEntryDescription, TopicDescription
from fleet.topic_rules import (
    TIMESTAMP_DIFFERENCE,
    TIMESTAMP_WIRE_NAMES,
    TOPIC_CONFIGS,
    settable_names,
    to_wire_configs,
)

logger = logging.getLogger(__name__)
# How long a config change may take to reach the broker that answers the next read.
CONFIG_PROPAGATION_SECONDS = 5.0

TOPIC_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
KAFKA_MAX_TOPIC_NAME = 249
DEFAULT_PARTITIONS = 6
# Sizes on disk (DescribeLogDirs, the costliest read) are refreshed less often than offsets.
SIZES_SECONDS = 20.0
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
ORDERINGS = ("name", "partitions", "size", "messages", "bytes_in", "bytes_out")


# --- validation -----------------------------------------------------------------------------


def max_topic_name_length(cluster: Cluster) -> int:
    return KAFKA_MAX_TOPIC_NAME - len(cluster.wire_prefix)


def validate_topic_name(cluster: Cluster, name: object) -> str:
    text = str(name or "").strip()
    longest = max_topic_name_length(cluster)
    message = (
        f"Topic name may use letters, digits, '.', '_' and '-' (1–{longest} characters, so that "
        f"the wire name '{cluster.wire_prefix}<name>' fits Kafka's {KAFKA_MAX_TOPIC_NAME})."
    )
    if not text or len(text) > longest or not TOPIC_NAME_RE.match(text) or text in {".", ".."}:
        raise ValidationFailed({"name": message})
    return text


def validate_configs(configs: object, *, creating: bool) -> dict[str, str]:
    """Settable configs only, each within its bounds; values normalized to strings."""
    if configs in (None, ""):
        return {}
    if not isinstance(configs, dict):
        raise ValidationFailed({"configs": "Configs must be an object of name → value."})
    errors: list[str] = []
    clean: dict[str, str] = {}
    for name, raw in configs.items():
        spec = TOPIC_CONFIGS.get(name)
        if spec is None:
            errors.append(
                f"'{name}' is not a topic config you can set. Settable: {settable_names()}."
            )
            continue
        if spec.create_only and not creating:
            errors.append(f"{name} can only be set when the topic is created.")
            continue
        try:
            clean[name] = spec.validate(raw)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValidationFailed({"configs": errors})
    return clean


def validate_partition_count(value: object, *, field_name: str = "partitions") -> int:
    try:
        count = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationFailed({field_name: "Partitions must be a whole number."}) from None
    if not 1 <= count <= limits.MAX_PARTITIONS:
        raise ValidationFailed(
            {
                field_name: f"Partitions must be between 1 and {limits.MAX_PARTITIONS} "
                f"(the partitions-per-cluster limit)."
            }
        )
    return count


def _is_compacted(cleanup_policy: str) -> bool:
    return "compact" in (cleanup_policy or "")


def check_partition_limits(
    cluster: Cluster,
    *,
    adding: int,
    compacted: bool,
    mutations: int,
    field_name: str = "partitions",
    now: datetime | None = None,
) -> None:
    """Raise ValidationError naming the limit if `adding` partitions would exceed one.

    `mutations` is how many partitions the operation creates or deletes (the rate limit).
    """
    topics = Topic.objects.filter(cluster=cluster)
    total = topics.aggregate(n=Sum("partitions"))["n"] or 0
    if adding > 0 and total + adding > limits.MAX_PARTITIONS:
        raise ValidationFailed(
            {
                field_name: f"This would make {total + adding} partitions in the cluster; the "
                f"limit is {limits.MAX_PARTITIONS} partitions per cluster (it has {total})."
            }
        )
    if adding > 0 and compacted:
        compacted_total = (
            topics.filter(cleanup_policy__contains="compact").aggregate(n=Sum("partitions"))["n"]
            or 0
        )
        if compacted_total + adding > limits.MAX_COMPACTED_PARTITIONS:
            raise ValidationFailed(
                {
                    field_name: f"This would make {compacted_total + adding} compacted "
                    f"partitions; the limit is {limits.MAX_COMPACTED_PARTITIONS} partitions of "
                    f"compacted topics per cluster (it has {compacted_total})."
                }
            )
    if adding > 0 and cluster.cell is not None:
        check_cell_capacity(cluster.cell, adding=adding, field_name=field_name)
    if mutations > 0:
        now = now or timezone.now()
        since = now - timedelta(seconds=limits.PARTITION_MUTATION_WINDOW_SECONDS)
        recent = (
            TopicPartitionEvent.objects.filter(cluster=cluster, occurred_at__gt=since).aggregate(
                n=Sum(Abs("partitions_delta"))
            )["n"]
            or 0
        )
        if recent + mutations > limits.PARTITION_MUTATIONS_PER_WINDOW:
            minutes = limits.PARTITION_MUTATION_WINDOW_SECONDS // 60
            raise ValidationFailed(
                {
                    field_name: f"This would create or delete {mutations} partitions after "
                    f"{recent} in the last {minutes} minutes; the limit is "
                    f"{limits.PARTITION_MUTATIONS_PER_WINDOW} partition creations and deletions "
                    f"per {minutes} minutes. Try again later."
                }
            )


def _require_active(cluster: Cluster) -> None:
    if cluster.state != Cluster.State.ACTIVE or cluster.cell_id is None:
        raise ValidationFailed(
            f"Cluster '{cluster.name}' is {cluster.state}; topics can be changed once it is ACTIVE."
        )


def cluster_gateway(cluster: Cluster) -> ClusterGateway:
    """The cluster's view of its cell: short names only (see fleet.kafka.tenant)."""
    return ClusterGateway(cluster)


def _lock(cluster: Cluster) -> Cluster:
    # FOR UPDATE cannot lock the nullable side of a join: lock the row alone.
    locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
    locked.team = cluster.team
    return locked


def _record(
    cluster: Cluster,
    name: str,
    kind: str,
    *,
    delta: int,
    count: int,
    compacted: bool,
    source: str,
    at: datetime | None = None,
) -> TopicPartitionEvent:
    return TopicPartitionEvent.objects.create(
        cluster=cluster,
        topic_name=name,
        kind=kind,
        partitions_delta=delta,
        partition_count=count,
        compacted=compacted,
        occurred_at=at or timezone.now(),
        source=source,
    )


# --- mutations ------------------------------------------------------------------------------


_T = TypeVar("_T")


def _collect(errors: dict[str, list[str]], check: Callable[[], _T]) -> _T | None:
    """What `check` returns, or None with its field errors added to `errors`."""
    try:
        return check()
    except ValidationError as exc:
        for field_name, messages in exc.message_dict.items():
            errors.setdefault(field_name, []).extend(messages)
        return None


def topic_create(
    *, cluster: Cluster, name: str, partitions: object = DEFAULT_PARTITIONS, configs=None
) -> Topic:
    """Create a topic on the cell with the platform's defaults and the user's settable configs."""
    errors: dict[str, list[str]] = {}
    clean_name = _collect(errors, lambda: validate_topic_name(cluster, name))
    clean_partitions = _collect(errors, lambda: validate_partition_count(partitions))
    clean_configs = _collect(errors, lambda: validate_configs(configs, creating=True))
    # Each is None only when its check failed, and then `errors` says why.
    if errors or clean_name is None or clean_partitions is None or clean_configs is None:
        raise ValidationFailed(errors)
    _require_active(cluster)
    cleanup = clean_configs.get("cleanup.policy", TOPIC_CONFIGS["cleanup.policy"].default)
    wire_configs = {
        spec.name: spec.default for spec in TOPIC_CONFIGS.values() if spec.set_at_creation
    }
    wire_configs.update(clean_configs)
    with transaction.atomic():
        locked = _lock(cluster)
        if Topic.objects.filter(cluster=locked, name=clean_name).exists():
            raise ValidationFailed(
                {"name": f"Topic '{clean_name}' already exists in this cluster."}
            )
        check_partition_limits(
            locked,
            adding=clean_partitions,
            compacted=_is_compacted(cleanup),
            mutations=clean_partitions,
        )
        gw = cluster_gateway(locked)
        wire = gw.wire_name(clean_name)
        try:
            gw.create_topic(
                clean_name, partitions=clean_partitions, configs=to_wire_configs(wire_configs)
            )
        except TopicAlreadyExists:
            raise ValidationFailed(
                {
                    "name": f"Topic '{clean_name}' already exists on the cluster (created over "
                    "Kafka; it appears here within a minute)."
                }
            ) from None
        except InvalidKafkaRequest as exc:
            raise ValidationFailed({"configs": exc.message}) from exc
        now = timezone.now()
        topic = Topic.objects.create(
            cluster=locked,
            name=clean_name,
            partitions=clean_partitions,
            replication_factor=cell_replication_factor(cluster_cell(locked)),
            cleanup_policy=cleanup,
            origin=Topic.Origin.CONSOLE,
            created_at=now,
        )
        _record(
            locked,
            clean_name,
            TopicPartitionEvent.Kind.CREATED,
            delta=clean_partitions,
            count=clean_partitions,
            compacted=topic.is_compacted,
            source=Topic.Origin.CONSOLE,
            at=now,
        )
        audit_record(
            team=locked.team,
            action="topic.create",
            target=topic,
            target_repr=wire,
            after={"name": clean_name, "partitions": clean_partitions, "configs": clean_configs},
        )
    row = TopicRow(
        name=clean_name,
        partitions=clean_partitions,
        replication_factor=topic.replication_factor,
        size_bytes=0,
        messages=0,
        under_replicated=0,
    )
    _console_changed(cluster, clean_name, row)
    return topic


def _topic_for_change(locked: Cluster, name: str, gw: ClusterGateway) -> Topic:
    """The topic's row; a topic made over Kafka that sync has not seen yet is imported first."""
    topic = Topic.objects.filter(cluster=locked, name=name).first()
    if topic is not None:
        return topic
    described = gw.list_topics().get(name) if name else None
    if described is None:
        raise NotFound(f"Topic '{name}' does not exist in cluster '{locked.name}'.")
    configs = gw.describe_many_topic_configs([name], ["cleanup.policy"]).get(name, {})
    return _import_topic(locked, name, described, configs, timezone.now())


def topic_require(*, cluster: Cluster, name: str) -> None:
    """NotFound unless the cluster has a topic of that short name (one metadata call)."""
    if not name or cluster_gateway(cluster).list_topics().get(name) is None:
        raise NotFound(f"Topic '{name}' does not exist in cluster '{cluster.name}'.")


def topic_alter_configs(
    *, cluster: Cluster, name: str, changes: dict[str, object | None]
) -> dict[str, str | None]:
    """Incrementally set configs (`None` resets one to the platform default)."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed({"configs": "Give at least one config to change."})
    to_set = validate_configs({k: v for k, v in changes.items() if v is not None}, creating=False)
    resets = [k for k, v in changes.items() if v is None]
    validate_configs(
        {k: TOPIC_CONFIGS[k].default for k in resets if k in TOPIC_CONFIGS}, creating=False
    )
    unknown = [k for k in resets if k not in TOPIC_CONFIGS]
    if unknown:
        validate_configs(dict.fromkeys(unknown, ""), creating=False)
    _require_active(cluster)
    wire_changes: dict[str, str | None] = dict(to_set)
    for key in resets:
        spec = TOPIC_CONFIGS[key]
        # Back to the platform default: Kafka's own default unless the platform sets another.
        wire_changes[key] = spec.default if spec.set_at_creation else None
    with transaction.atomic():
        locked = _lock(cluster)
        gw = cluster_gateway(locked)
        topic = _topic_for_change(locked, name, gw)
        wire = topic.wire_name
        before = _user_configs(gw.describe_topic_configs(topic.name))
        try:
            gw.alter_topic_configs(topic.name, to_wire_configs(wire_changes))
        except InvalidKafkaRequest as exc:
            raise ValidationFailed({"configs": exc.message}) from exc
        _wait_until_configs_visible(gw, topic.name, to_wire_configs(wire_changes))
        audit_record(
            team=locked.team,
            action="topic.alter_configs",
            target=topic,
            target_repr=wire,
            before={k: before.get(k) for k in changes},
            after={k: wire_changes[k] for k in changes},
        )
    topics_changed(cluster)
    return wire_changes


def _wait_until_configs_visible(
    gw: ClusterGateway, name: str, changes: dict[str, str | None]
) -> None:
    """Return once the broker that answers DescribeConfigs shows the change (bounded).

    The controller accepted it, but any broker may answer the next read, and one that has not
    replayed the metadata log yet shows the old values: the page after a Save would show them.
    """
    deadline = time.monotonic() + CONFIG_PROPAGATION_SECONDS
    agreeing = 0  # reads in a row that show it: each may come from another broker
    while agreeing < 3:
        entries = gw.describe_topic_configs(name)
        visible = all(
            (entries.get(key) is not None and entries[key].value == value)
            if value is not None
            else (entries.get(key) is None or entries[key].source != "DYNAMIC_TOPIC_CONFIG")
            for key, value in changes.items()
        )
        agreeing = agreeing + 1 if visible else 0
        if agreeing < 3 and time.monotonic() >= deadline:
            logger.warning(
                "topic %s: config change not visible after %ss", name, CONFIG_PROPAGATION_SECONDS
            )
            return
        if not visible:
            time.sleep(0.1)


def topic_add_partitions(*, cluster: Cluster, name: str, total: object) -> Topic:
    """Grow a topic to `total` partitions (Kafka cannot reduce them)."""
    count = validate_partition_count(total, field_name="partitions")
    _require_active(cluster)
    with transaction.atomic():
        locked = _lock(cluster)
        gw = cluster_gateway(locked)
        topic = _topic_for_change(locked, name, gw)
        current = topic.partitions
        if count <= current:
            raise ValidationFailed(
                {
                    "partitions": f"Topic '{name}' has {current} partitions; the new count must "
                    f"be larger (Kafka cannot reduce the number of partitions)."
                }
            )
        added = count - current
        check_partition_limits(locked, adding=added, compacted=topic.is_compacted, mutations=added)
        gw.create_partitions(topic.name, total=count)
        topic.partitions = count
        topic.save(update_fields=["partitions", "updated_at"])
        _record(
            locked,
            name,
            TopicPartitionEvent.Kind.PARTITIONS_ADDED,
            delta=added,
            count=count,
            compacted=topic.is_compacted,
            source=Topic.Origin.CONSOLE,
        )
        audit_record(
            team=locked.team,
            action="topic.add_partitions",
            target=topic,
            target_repr=topic.wire_name,
            before={"partitions": current},
            after={"partitions": count},
        )
    topics_changed(
        cluster,
        patch=lambda rows: {
            **rows,
            **(
                {topic.name: TopicRow(**{**rows[topic.name].__dict__, "partitions": count})}
                if topic.name in rows
                else {}
            ),
        },
    )
    return topic


def topic_purge(*, cluster: Cluster, name: str) -> int:
    """Delete every record up to the current end offsets. Returns how many were removed."""
    _require_active(cluster)
    with transaction.atomic():
        locked = _lock(cluster)
        gw = cluster_gateway(locked)
        topic = _topic_for_change(locked, name, gw)
        parts = [(topic.name, p) for p in range(topic.partitions)]
        offsets = gw.list_partition_offsets(parts)
        targets = {tp: o.end for tp, o in offsets.items() if o.end > o.start}
        removed = sum(offsets[tp].end - offsets[tp].start for tp in targets)
        gw.delete_records(targets)
        audit_record(
            team=locked.team,
            action="topic.purge",
            target=topic,
            target_repr=topic.wire_name,
            before={"messages": removed},
            after={"messages": 0},
        )
    topics_changed(
        cluster,
        patch=lambda rows: {
            **rows,
            **(
                {topic.name: TopicRow(**{**rows[topic.name].__dict__, "messages": 0})}
                if topic.name in rows
                else {}
            ),
        },
    )
    return removed


def topic_delete(*, cluster: Cluster, name: str) -> None:
    _require_active(cluster)
    with transaction.atomic():
        locked = _lock(cluster)
        gw = cluster_gateway(locked)
        topic = _topic_for_change(locked, name, gw)
        # No limit check: the console can always delete a tenant's topics, even past the
        # cluster's mutation budget (a cluster over its limits gets back under this way).
        gw.delete_topic(topic.name, missing_ok=True)
        _record(
            locked,
            name,
            TopicPartitionEvent.Kind.DELETED,
            delta=-topic.partitions,
            count=0,
            compacted=topic.is_compacted,
            source=Topic.Origin.CONSOLE,
        )
        audit_record(
            team=locked.team,
            action="topic.delete",
            target=topic,
            target_repr=topic.wire_name,
            before={"partitions": topic.partitions, "cleanup_policy": topic.cleanup_policy},
        )
        topic.delete()
    _console_changed(cluster, topic.name, None)


# --- the list (bulk, cached) ----------------------------------------------------------------


@dataclass(frozen=True)
class TopicRow:
    name: str
    partitions: int
    replication_factor: int
    size_bytes: int | None  # one replica; None when log dirs could not be read
    messages: int
    under_replicated: int
    cleanup_policy: str | None = None
    bytes_in_per_sec: float | None = None
    bytes_out_per_sec: float | None = None


@dataclass(frozen=True)
class TopicSnapshot:
    taken_at: float
    rows: dict[str, TopicRow]
    sizes_unavailable: bool = False
    sizes: dict = field(default_factory=dict, repr=False)  # (topic, partition) → sizes
    sizes_at: float = 0.0
    read_at: datetime | None = None  # wall clock (UTC) of the offsets read: the page's "as of"
    sizes_read_at: datetime | None = None  # wall clock of the sizes read


@dataclass
class TopicPage(PageNumbers):
    rows: list[TopicRow]
    total: int  # topics matching the search
    page: int
    page_size: int
    search: str
    ordering: str
    cluster_partitions: int = 0
    cluster_topics: int = 0
    taken_at: float = 0.0
    sizes_unavailable: bool = False
    read_at: datetime | None = None
    sizes_read_at: datetime | None = None


_cold_locks: dict[int, threading.Lock] = {}
_cold_locks_lock = threading.Lock()


def _cold_lock(cluster_id: int) -> threading.Lock:
    with _cold_locks_lock:
        return _cold_locks.setdefault(cluster_id, threading.Lock())


def invalidate_topic_cache(cluster: Cluster | None = None) -> None:
    """Forget the stored snapshot (of every cluster without one): the next view reads the cell.

    For tests and tools that need a read made now; the console's own changes call
    `topics_changed`, which keeps the list served from the store.
    """
    if cluster is None:
        list_cache.drop_all()
    else:
        list_cache.drop("topics", cluster.pk)


def topics_changed(
    cluster: Cluster, *, patch: Callable[[dict[str, TopicRow]], dict[str, TopicRow]] | None = None
) -> None:
    """A change the stored snapshot does not show yet: apply what is known of it (`patch` of
    the rows), and have the next background refresh read the cluster again."""
    if patch is not None:
        rows_patch = patch
        list_cache.snapshot_patch(
            "topics", cluster.pk, lambda snap: replace(snap, rows=rows_patch(snap.rows))
        )
    list_cache.mark_stale("topics", cluster.pk)


def _console_changed(cluster: Cluster, name: str, row: TopicRow | None) -> None:
    """The console created (`row`) or deleted (None) a topic: in the stored list at once, and
    kept for a minute in every read stored after (see `_with_recent_changes`)."""
    list_cache.note_change("topics", cluster.pk, name, row)
    if row is None:
        topics_changed(cluster, patch=lambda rows: {k: v for k, v in rows.items() if k != name})
    else:
        topics_changed(cluster, patch=lambda rows: {**rows, name: row})


def read_topic_snapshot(
    gw: ClusterGateway, *, previous: TopicSnapshot | None = None
) -> TopicSnapshot:
    """Everything the list shows, for every topic of the cluster, in a fixed number of calls.

    Sizes of `previous` are reused while younger than SIZES_SECONDS. Times are wall-clock
    seconds: the snapshot is read in one process and served by others.
    """
    started = time.time()
    read_at = timezone.now()
    reuse = (
        previous is not None
        and not previous.sizes_unavailable
        and 0 <= started - previous.sizes_at < SIZES_SECONDS
    )
    described = gw.list_topics()
    parts = [(short, p.id) for short, t in described.items() for p in t.partitions]
    by_topic = {short: [p.id for p in t.partitions] for short, t in described.items()}
    sizes_unavailable = False
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Each in the caller's context: the request's Kafka time budget goes along.
        offsets_future = pool.submit(copy_context().run, gw.list_partition_offsets, parts)
        sizes_future = (
            None if reuse else pool.submit(copy_context().run, gw.describe_log_dirs, by_topic)
        )
        offsets = offsets_future.result()
        if sizes_future is None:
            assert previous is not None  # sizes are reused only from a previous snapshot
            sizes, sizes_at = previous.sizes, previous.sizes_at
            sizes_read_at = previous.sizes_read_at
        else:
            sizes_at, sizes_read_at = started, read_at
            try:
                sizes = sizes_future.result()
            except KafkaGatewayError as exc:
                logger.warning("log dir sizes unavailable: %s", exc.message)
                sizes, sizes_unavailable = {}, True
    rows: dict[str, TopicRow] = {}
    for short, topic in described.items():
        size = 0
        messages = 0
        for p in topic.partitions:
            replicas = sizes.get((short, p.id), {})
            # One replica: the leader's copy if it reported, else the largest.
            size += replicas.get(p.leader, max(replicas.values(), default=0))
            offs = offsets.get((short, p.id))
            messages += offs.messages if offs else 0
        rows[short] = TopicRow(
            name=short,
            partitions=len(topic.partitions),
            replication_factor=topic.replication_factor,
            size_bytes=None if sizes_unavailable else size,
            messages=messages,
            under_replicated=sum(1 for p in topic.partitions if len(p.isr) < len(p.replicas)),
        )
    return TopicSnapshot(
        time.time(), rows, sizes_unavailable, sizes, sizes_at, read_at, sizes_read_at
    )


def refresh_topic_snapshot(*, cluster: Cluster) -> TopicSnapshot:
    """Read the cluster's topics from the cell and store the snapshot (background work)."""
    started = time.time()
    stored = list_cache.snapshot_get("topics", cluster.pk)
    snapshot = read_topic_snapshot(
        cluster_gateway(cluster), previous=stored.value if stored else None
    )
    snapshot = _with_recent_changes(cluster, snapshot)
    list_cache.snapshot_put("topics", cluster.pk, snapshot, started=started)
    return snapshot


def _with_recent_changes(cluster: Cluster, snapshot: TopicSnapshot) -> TopicSnapshot:
    """The read with the console's creates and deletes of the last minute applied: the read may
    have begun before them, or been answered by a broker that had not applied them yet."""
    changes = list_cache.recent_changes("topics", cluster.pk)
    if not changes:
        return snapshot
    rows = dict(snapshot.rows)
    for name, row in changes:
        if row is None:
            rows.pop(name, None)
        elif name not in rows:  # the cell's own row, when it has one, is the fresher
            rows[name] = row
    return replace(snapshot, rows=rows)


def cluster_topic_snapshot(cluster: Cluster, *, fresh: bool = False) -> TopicSnapshot:
    """The stored snapshot, however old (the page says when it was read; the background
    refresh keeps it within SKIFF_LISTS_REFRESH seconds). Read from the cell only when there
    is none yet (the first view of a list), or with `fresh`.
    """
    list_cache.note_viewed("topics", cluster.pk)
    if not fresh:
        stored = list_cache.snapshot_get("topics", cluster.pk)
        if stored is not None:
            return stored.value
    with _cold_lock(cluster.pk):  # one cold read per cluster; the others wait for its result
        if not fresh:
            stored = list_cache.snapshot_get("topics", cluster.pk)
            if stored is not None:
                return stored.value
        list_cache.cold_reads["topics"] += 1
        return refresh_topic_snapshot(cluster=cluster)


def _topic_rates(
    cluster: Cluster, names: list[str] | None = None
) -> dict[str, tuple[float, float]]:
    """Bytes in/out per second per topic over the last complete minute the sampler recorded:
    of `names` only, or of every topic (a sort by rate needs them all: 2,400 rows)."""
    try:
        usage = apps.get_model("fleet", "TopicMinuteUsage")  # moved to fleet (clusters 0005)
    except LookupError:
        return {}
    latest = (
        usage.objects.filter(cluster=cluster)
        .order_by("-minute")
        .values_list("minute", flat=True)
        .first()
    )
    if latest is None or latest < timezone.now() - timedelta(minutes=3):
        return {}
    rows = usage.objects.filter(cluster=cluster, minute=latest)
    if names is not None:
        rows = rows.filter(topic__in=names)
    return {
        topic: (bytes_in / 60.0, bytes_out / 60.0)
        for topic, bytes_in, bytes_out in rows.values_list("topic", "bytes_in", "bytes_out")
    }


_SNAPSHOT_ORDERINGS = ("name", "partitions", "size", "messages")


def _snapshot_sort_key(field_name: str) -> Callable[[TopicRow], Any]:
    if field_name == "name":
        return attrgetter("name")
    column = {"partitions": "partitions", "size": "size_bytes", "messages": "messages"}[field_name]
    return lambda row: (getattr(row, column) or 0, row.name)


@dataclass
class _Served:
    """What requests derive from one stored snapshot, computed once per snapshot: it is
    replaced, never changed, so its sorted orders hold until the next one (sorting 2,400 rows
    costs a few ms of CPU, and every request sorted them)."""

    snapshot: TopicSnapshot
    partitions: int
    orders: dict[str, list[TopicRow]] = field(default_factory=dict)

    def ordered(self, field_name: str) -> list[TopicRow]:
        rows = self.orders.get(field_name)
        if rows is None:
            rows = sorted(self.snapshot.rows.values(), key=_snapshot_sort_key(field_name))
            self.orders[field_name] = rows
        return rows


_SERVED_SIZE = 256
_served: dict[int, _Served] = {}


def _served_from(cluster_id: int, snapshot: TopicSnapshot) -> _Served:
    served = _served.get(cluster_id)
    if served is None or served.snapshot is not snapshot:
        if len(_served) >= _SERVED_SIZE:
            _served.pop(next(iter(_served)), None)
        partitions = sum(r.partitions for r in snapshot.rows.values())
        served = _served[cluster_id] = _Served(snapshot, partitions)
    return served


def topic_list(
    *,
    cluster: Cluster,
    search: str = "",
    ordering: str = "name",
    page: str | int | None = 1,  # a query parameter's text, or a number
    page_size: str | int | None = PAGE_SIZE,
) -> TopicPage:
    """One page of the cluster's topics, searched and sorted server-side."""
    key = (ordering or "name").strip()
    descending = key.startswith("-")
    field_name = key.lstrip("-")
    if field_name not in ORDERINGS:
        raise ValidationFailed(
            {"ordering": f"Sort by one of: {', '.join(ORDERINGS)} (prefix '-' for descending)."}
        )
    try:
        page_number = max(1, int(page or 1))
        size = min(MAX_PAGE_SIZE, max(1, int(page_size or PAGE_SIZE)))
    except (TypeError, ValueError):
        raise ValidationFailed({"page": "Page and page_size must be whole numbers."}) from None
    if cluster.state != Cluster.State.ACTIVE or cluster.cell_id is None:
        return TopicPage([], 0, 1, size, search, key)
    snapshot = cluster_topic_snapshot(cluster)
    served = _served_from(cluster.pk, snapshot)
    needle = (search or "").strip().lower()
    rates: dict[str, tuple[float, float]] | None = None
    if field_name in _SNAPSHOT_ORDERINGS:
        rows = served.ordered(field_name)  # ascending; shared, never changed in place
        if descending:
            rows = rows[::-1]
    else:  # by rate: every topic's rate of the last minute
        every = rates = _topic_rates(cluster)
        index = 0 if field_name == "bytes_in" else 1
        rows = sorted(
            served.ordered("name"),  # ties by name
            key=lambda row: every.get(row.name, (0.0, 0.0))[index],
            reverse=descending,
        )
    if needle:
        rows = [r for r in rows if needle in r.name.lower()]
    total = len(rows)
    pages = max(1, -(-total // size))
    page_number = min(page_number, pages)
    window = rows[(page_number - 1) * size : page_number * size]
    names = [r.name for r in window]
    if rates is None:
        rates = _topic_rates(cluster, names) if window else {}
    policies = dict(
        Topic.objects.filter(cluster=cluster, name__in=names).values_list("name", "cleanup_policy")
    )
    out = []
    for row in window:
        rate = rates.get(row.name)
        out.append(
            replace(
                row,
                cleanup_policy=policies.get(row.name),
                bytes_in_per_sec=rate[0] if rate else None,
                bytes_out_per_sec=rate[1] if rate else None,
            )
        )
    return TopicPage(
        rows=out,
        total=total,
        page=page_number,
        page_size=size,
        search=search or "",
        ordering=key,
        cluster_partitions=served.partitions,
        cluster_topics=len(snapshot.rows),
        taken_at=snapshot.taken_at,
        sizes_unavailable=snapshot.sizes_unavailable,
        read_at=snapshot.read_at,
        sizes_read_at=snapshot.sizes_read_at,
    )


# --- one topic ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionDetail:
    id: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    start_offset: int | None
    end_offset: int | None

    @property
    def messages(self) -> int:
        if self.start_offset is None or self.end_offset is None:
            return 0
        return max(0, self.end_offset - self.start_offset)


@dataclass(frozen=True)
class ConfigValue:
    name: str
    value: str | None
    source: str
    is_default: bool
    settable: bool


@dataclass
class TopicDetail:
    name: str
    wire_name: str
    partitions: list[PartitionDetail]
    replication_factor: int
    configs: list[ConfigValue]  # every effective config, with its source
    settable: dict[str, str | None]  # the user-settable ones, by their console names
    consumer_groups: list[TopicGroupLag]
    origin: str | None
    created_at: datetime | None

    @property
    def messages(self) -> int:
        return sum(p.messages for p in self.partitions)

    @property
    def cleanup_policy(self) -> str:
        return self.settable.get("cleanup.policy") or "delete"


def _user_configs(entries: dict[str, ConfigEntryDescription]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in TOPIC_CONFIGS:
        if name == TIMESTAMP_DIFFERENCE:
            before, after = (entries.get(n) for n in TIMESTAMP_WIRE_NAMES)
            values = {e.value for e in (before, after) if e is not None}
            out[name] = values.pop() if len(values) == 1 else (before.value if before else None)
        else:
            entry = entries.get(name)
            out[name] = entry.value if entry else None
    return out


def topic_get_after_create(*, cluster: Cluster, name: str, timeout: float = 8.0) -> TopicDetail:
    """`topic_get` for a topic this request has just created.

    The controller acknowledged the topic, but the broker that answers the describe or the
    offsets read may not have applied it yet (it then reports the topic unknown, or refuses the
    offsets read). Retry for a few seconds within the request's budget instead of answering a
    404 or 502 for a topic that exists.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return topic_get(cluster=cluster, name=name)
        except (NotFound, KafkaGatewayError) as exc:
            if getattr(exc, "status", 500) == 504 or time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


def topic_get(*, cluster: Cluster, name: str) -> TopicDetail:
    if cluster.cell_id is None:
        raise NotFound(f"Topic '{name}' does not exist in cluster '{cluster.name}'.")
    gw = cluster_gateway(cluster)
    wire = gw.wire_name(name) if name else ""
    described = gw.list_topics().get(name) if name else None
    known = Topic.objects.filter(cluster=cluster, name=name).values_list("partitions", flat=True)
    expected = known.first() if name else None
    deadline = time.monotonic() + 3.0
    # Just created or grown: a broker may serve metadata a moment before it learned of it.
    while (
        expected is not None
        and (described is None or len(described.partitions) < expected)
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
        described = gw.list_topics().get(name)
    if described is None:
        raise NotFound(f"Topic '{name}' does not exist in cluster '{cluster.name}'.")
    with ThreadPoolExecutor(max_workers=3) as pool:
        # Each in the caller's context: the request's Kafka time budget goes along.
        offsets_f = pool.submit(
            copy_context().run,
            gw.list_partition_offsets,
            [(name, p.id) for p in described.partitions],
        )
        configs_f = pool.submit(copy_context().run, gw.describe_topic_configs, name)
        groups_f = pool.submit(copy_context().run, topic_consumer_groups, gw, name)
        offsets, entries, groups = offsets_f.result(), configs_f.result(), groups_f.result()
    partitions = [
        PartitionDetail(
            id=p.id,
            leader=p.leader,
            replicas=p.replicas,
            isr=p.isr,
            start_offset=offsets[(name, p.id)].start if (name, p.id) in offsets else None,
            end_offset=offsets[(name, p.id)].end if (name, p.id) in offsets else None,
        )
        for p in described.partitions
    ]
    row = Topic.objects.filter(cluster=cluster, name=name).first()
    settable_wire = set(TOPIC_CONFIGS) | set(TIMESTAMP_WIRE_NAMES)
    return TopicDetail(
        name=name,
        wire_name=wire,
        partitions=partitions,
        replication_factor=described.replication_factor,
        configs=[
            ConfigValue(e.name, e.value, e.source, e.is_default, e.name in settable_wire)
            for e in entries.values()
        ],
        settable=_user_configs(entries),
        consumer_groups=groups,
        origin=row.origin if row else None,
        created_at=row.created_at if row else None,
    )


# --- sync -----------------------------------------------------------------------------------


def _import_topic(
    cluster: Cluster,
    name: str,
    described: TopicDescription,
    configs: dict[str, ConfigEntryDescription],
    at: datetime,
) -> Topic:
    policy_entry = configs.get("cleanup.policy")
    policy = (policy_entry.value if policy_entry else None) or "delete"
    count = len(described.partitions)
    topic = Topic.objects.create(
        cluster=cluster,
        name=name,
        partitions=count,
        replication_factor=described.replication_factor,
        cleanup_policy=policy,
        origin=Topic.Origin.KAFKA,
        created_at=at,
    )
    _record(
        cluster,
        name,
        TopicPartitionEvent.Kind.CREATED,
        delta=count,
        count=count,
        compacted=topic.is_compacted,
        source=Topic.Origin.KAFKA,
        at=at,
    )
    audit_record(
        team=cluster.team,
        action="topic.import",
        target=topic,
        target_repr=topic.wire_name,
        after={"partitions": count, "cleanup_policy": policy, "origin": "kafka"},
    )
    return topic


# How long after a delete the sync distrusts a read that still shows the topic (a broker's
# metadata lags the controller's by seconds on a loaded host). A topic re-created over the Kafka
# protocol within this window is imported by the first sync after it.
DELETE_SETTLE = timedelta(seconds=60)


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.grown or self.deleted)


def sync_topics(
    *,
    cluster: Cluster,
    gw: ClusterGateway | None = None,
    metadata: dict[str, TopicDescription] | None = None,
    read_at: datetime | None = None,
) -> SyncResult:
    """Make the cluster's Topic rows equal what is on the cell; record each change once.

    ``metadata`` (short names, as ``ClusterGateway.list_topics`` gives them) lets the periodic
    sync read a cell once for all its clusters (clusters.services.topic_sync).

    Safe to run at any time and any number of times: the cluster row is locked while comparing,
    and a change the console made after the metadata was read is never undone.
    """
    result = SyncResult()
    if cluster.cell_id is None or cluster.state != Cluster.State.ACTIVE:
        return result
    gw = gw or cluster_gateway(cluster)
    if metadata is None:
        read_at = timezone.now()
        metadata = gw.list_topics()
    read_at = read_at or timezone.now()
    on_cell = metadata
    with transaction.atomic():
        locked = _lock(cluster)
        known = {t.name: t for t in Topic.objects.filter(cluster=locked)}
        # Events since the read (changes the console made meanwhile) and deletes a moment
        # before it: a broker that had not applied such a delete can still have answered the
        # read, so the name is not imported again until the brokers settle. One query for both.
        lately = list(
            TopicPartitionEvent.objects.filter(
                cluster=locked, occurred_at__gte=read_at - DELETE_SETTLE
            ).values_list("topic_name", "kind", "occurred_at")
        )
        changed_since = {name for name, _kind, at in lately if at >= read_at}
        deleted_lately = {
            name for name, kind, _at in lately if kind == TopicPartitionEvent.Kind.DELETED
        }
        new_names = [
            n
            for n in on_cell
            if n not in known and n not in changed_since and n not in deleted_lately
        ]
        configs = gw.describe_many_topic_configs(new_names, ["cleanup.policy"]) if new_names else {}
        missing = [
            n
            for n, t in known.items()
            if n not in on_cell and n not in changed_since and t.created_at < read_at
        ]
        # Confirm deletions with a second, targeted request: one broker's metadata may lag.
        still_there = gw.describe_many_topic_configs(missing, ["cleanup.policy"]) if missing else {}
        now = timezone.now()
        events: list[TopicPartitionEvent] = []
        changes: dict[str, dict] = {}

        def event(name: str, kind: str, delta: int, count: int, compacted: bool) -> None:
            events.append(
                TopicPartitionEvent(
                    cluster=locked,
                    topic_name=name,
                    kind=kind,
                    partitions_delta=delta,
                    partition_count=count,
                    compacted=compacted,
                    occurred_at=now,
                    source=Topic.Origin.KAFKA,
                )
            )

        imported = []
        for name in new_names:
            found = on_cell[name]
            entry = configs.get(name, {}).get("cleanup.policy")
            policy = (entry.value if entry else None) or "delete"
            count = len(found.partitions)
            imported.append(
                Topic(
                    cluster=locked,
                    name=name,
                    partitions=count,
                    replication_factor=found.replication_factor,
                    cleanup_policy=policy,
                    origin=Topic.Origin.KAFKA,
                    created_at=now,
                )
            )
            event(name, TopicPartitionEvent.Kind.CREATED, count, count, _is_compacted(policy))
            changes[name] = {"created": count}
            result.created.append(name)
        Topic.objects.bulk_create(imported, batch_size=500)
        gone: list[int] = []
        for name, topic in known.items():
            if name in changed_since or topic.created_at >= read_at:
                continue
            described = on_cell.get(name)
            if described is None:
                if name in still_there:
                    continue
                event(
                    name, TopicPartitionEvent.Kind.DELETED, -topic.partitions, 0, topic.is_compacted
                )
                changes[name] = {"deleted": topic.partitions}
                gone.append(topic.pk)
                result.deleted.append(name)
                continue
            count = len(described.partitions)
            if count > topic.partitions:
                event(
                    name,
                    TopicPartitionEvent.Kind.PARTITIONS_ADDED,
                    count - topic.partitions,
                    count,
                    topic.is_compacted,
                )
                changes[name] = {"partitions": [topic.partitions, count]}
                topic.partitions = count
                topic.replication_factor = described.replication_factor
                topic.save(update_fields=["partitions", "replication_factor", "updated_at"])
                result.grown.append(name)
            elif described.replication_factor != topic.replication_factor:
                topic.replication_factor = described.replication_factor
                topic.save(update_fields=["replication_factor", "updated_at"])
        Topic.objects.filter(pk__in=gone).delete()
        TopicPartitionEvent.objects.bulk_create(events, batch_size=500)
        if changes:
            # One record per sync run: what changed over the Kafka protocol since the last one.
            audit_record(
                team=locked.team,
                action="topic.sync",
                target=locked,
                after={
                    "created": result.created,
                    "partitions_added": result.grown,
                    "deleted": result.deleted,
                    "changes": changes,
                },
            )
    if result.changed:
        topics_changed(cluster)  # in the background: the next refresh reads it again
    return result
