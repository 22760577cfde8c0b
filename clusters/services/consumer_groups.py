"""Consumer groups of a serverless cluster: list with lag, detail, reset offsets, delete.

Every call goes through the cluster's `ClusterGateway`: short group ids and topic names in and
out, the prefix handled by the facade alone. Lag of a partition is its end offset minus the
group's committed offset (never negative).

The list is read in the background, like the topic list (clusters/services/list_cache.py): a
request serves the stored snapshot, which says when it was read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import attrgetter

from django.db import transaction
from django.utils import timezone

from clusters.models import Cluster
from clusters.services import list_cache
from clusters.services.paging import PageNumbers
from console.audit import audit_record
from console.errors import NotFound, ValidationFailed
from fleet.kafka.tenant import ClusterGateway, NameOutsideCluster
from fleet.kafka.types import TopicPartitionKey

RESET_TARGETS = ("earliest", "latest", "timestamp", "offset")
_GONE_STATES = {"DEAD"}


@dataclass(frozen=True)
class PartitionLag:
    topic: str  # short name
    partition: int
    committed: int | None
    end: int | None
    start: int | None

    @property
    def lag(self) -> int:
        if self.committed is None or self.end is None:
            return 0
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class MemberRow:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[tuple[str, int], ...]  # short topic names

    @property
    def assignment_text(self) -> str:
        return ", ".join(f"{t}-{p}" for t, p in self.assignment) or "—"


@dataclass(frozen=True)
class TopicGroupLag:
    """A group reading one topic (the topic page), with its lag on that topic."""

    group: str  # short id
    state: str
    members: int
    lag: int
    partitions: int


@dataclass
class GroupRow:
    group: str  # short id
    state: str
    members: int
    topics: list[str]
    lag: int


@dataclass
class GroupDetail:
    group: str
    wire_id: str
    state: str
    type: str
    partition_assignor: str
    coordinator: int | None
    members: list[MemberRow]
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def topics(self) -> list[str]:
        return sorted({p.topic for p in self.partitions})

    @property
    def is_empty(self) -> bool:
        return not self.members


def _gateway(cluster: Cluster) -> ClusterGateway:
    if cluster.cell_id is None or cluster.state != Cluster.State.ACTIVE:
        raise ValidationFailed(f"Cluster '{cluster.name}' is {cluster.state}, not ACTIVE.")
    return ClusterGateway(cluster)


def _lags(
    gw: ClusterGateway, committed: dict[str, dict[TopicPartitionKey, int]]
) -> dict[str, list[PartitionLag]]:
    """Per group, its committed offsets (short names, from the facade) with their lag."""
    parts = {tp for offsets in committed.values() for tp in offsets}
    ends = gw.list_partition_offsets(parts)
    out: dict[str, list[PartitionLag]] = {}
    for group, offsets in committed.items():
        rows = []
        for (topic, partition), offset in sorted(offsets.items()):
            end = ends.get((topic, partition))
            rows.append(
                PartitionLag(
                    topic=topic,
                    partition=partition,
                    committed=offset,
                    end=end.end if end else None,
                    start=end.start if end else None,
                )
            )
        out[group] = rows
    return out


@dataclass(frozen=True)
class GroupSnapshot:
    rows: tuple[GroupRow, ...]  # every group of the cluster, by id
    read_at: datetime  # when the read began: the page's "as of"


def read_group_snapshot(gw: ClusterGateway) -> GroupSnapshot:
    """Every group of the cluster with state, member count, topics and total lag (4 calls)."""
    read_at = timezone.now()
    states = gw.list_consumer_groups()
    ids = sorted(states)
    if not ids:
        return GroupSnapshot((), read_at)
    descriptions = gw.describe_consumer_groups(ids)
    lags = _lags(gw, gw.list_consumer_group_offsets(ids))
    rows = []
    for group in ids:
        desc = descriptions.get(group)
        partitions = lags.get(group, [])
        rows.append(
            GroupRow(
                group=group,
                state=desc.state if desc else states[group],
                members=len(desc.members) if desc else 0,
                topics=sorted({p.topic for p in partitions}),
                lag=sum(p.lag for p in partitions),
            )
        )
    return GroupSnapshot(tuple(rows), read_at)


def refresh_group_snapshot(*, cluster: Cluster) -> GroupSnapshot:
    """Read the cluster's groups from the cell and store the snapshot (background work)."""
    started = time.time()
    snapshot = read_group_snapshot(_gateway(cluster))
    # A group the console deleted in the last minute stays gone, even when the coordinator
    # that answered the read had not applied the delete yet.
    gone = {name for name, row in list_cache.recent_changes("groups", cluster.pk) if row is None}
    if gone:
        snapshot = replace(snapshot, rows=tuple(r for r in snapshot.rows if r.group not in gone))
    list_cache.snapshot_put("groups", cluster.pk, snapshot, started=started)
    return snapshot


_cold_lock = threading.Lock()


def group_snapshot(*, cluster: Cluster) -> GroupSnapshot:
    """The stored snapshot, however old; read from the cell only when there is none yet."""
    _gateway(cluster)  # an inactive cluster has no groups to show: the same error as before
    list_cache.note_viewed("groups", cluster.pk)
    stored = list_cache.snapshot_get("groups", cluster.pk)
    if stored is not None:
        return stored.value
    with _cold_lock:
        stored = list_cache.snapshot_get("groups", cluster.pk)
        if stored is not None:
            return stored.value
        list_cache.cold_reads["groups"] += 1
        return refresh_group_snapshot(cluster=cluster)


def groups_changed(cluster: Cluster, *, gone: str | None = None) -> None:
    """A change the stored snapshot does not show yet: drop a deleted group from it, and have
    the next background refresh read the cluster again."""
    if gone is not None:
        list_cache.note_change("groups", cluster.pk, gone, None)
        list_cache.snapshot_patch(
            "groups",
            cluster.pk,
            lambda snap: replace(snap, rows=tuple(r for r in snap.rows if r.group != gone)),
        )
    list_cache.mark_stale("groups", cluster.pk)


PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Sort keys of the list (prefix '-' for descending); every sort ends on the group id.
ORDERINGS = ("group", "state", "members", "lag")


@dataclass(frozen=True)
class GroupPage(PageNumbers):
    rows: list[GroupRow]  # this page's rows
    read_at: datetime
    total: int = 0  # groups matching the search
    page: int = 1
    page_size: int = PAGE_SIZE
    search: str = ""
    ordering: str = "group"
    cluster_groups: int = 0  # every group of the cluster


def _ordering(ordering: str | None) -> tuple[str, str, bool]:
    key = (ordering or "group").strip()
    field_name = key.lstrip("-")
    if field_name not in ORDERINGS:
        raise ValidationFailed(
            {"ordering": f"Sort by one of: {', '.join(ORDERINGS)} (prefix '-' for descending)."}
        )
    return key, field_name, key.startswith("-")


def _matching(
    snapshot: GroupSnapshot, *, search: str, field_name: str, descending: bool
) -> list[GroupRow]:
    """The snapshot's rows whose id contains `search`, sorted over the whole list."""
    needle = (search or "").strip().lower()
    rows = [r for r in snapshot.rows if needle in r.group.lower()]
    if field_name != "group":
        # The snapshot is in id order and the sort is stable (reverse too): ties stay by id.
        rows.sort(key=attrgetter(field_name), reverse=descending)
    elif descending:
        rows.reverse()
    return rows


def group_page(
    *,
    cluster: Cluster,
    search: str = "",
    ordering: str = "group",
    page: str | int | None = 1,  # a query parameter's text, or a number
    page_size: str | int | None = PAGE_SIZE,
) -> GroupPage:
    """One page of the cluster's groups whose id contains `search`, sorted over all of them,
    and when they were read."""
    key, field_name, descending = _ordering(ordering)
    try:
        page_number = max(1, int(page or 1))
        size = min(MAX_PAGE_SIZE, max(1, int(page_size or PAGE_SIZE)))
    except (TypeError, ValueError):
        raise ValidationFailed({"page": "Page and page_size must be whole numbers."}) from None
    snapshot = group_snapshot(cluster=cluster)
    rows = _matching(snapshot, search=search, field_name=field_name, descending=descending)
    total = len(rows)
    page_number = min(page_number, max(1, -(-total // size)))
    return GroupPage(
        rows=rows[(page_number - 1) * size : page_number * size],
        read_at=snapshot.read_at,
        total=total,
        page=page_number,
        page_size=size,
        search=search or "",
        ordering=key,
        cluster_groups=len(snapshot.rows),
    )


def group_list(*, cluster: Cluster, search: str = "", ordering: str = "group") -> list[GroupRow]:
    """Every group of the cluster whose id contains `search`, sorted (the stored snapshot's
    rows; the API pages them)."""
    _, field_name, descending = _ordering(ordering)
    snapshot = group_snapshot(cluster=cluster)
    return _matching(snapshot, search=search, field_name=field_name, descending=descending)


def group_get(*, cluster: Cluster, group: str) -> GroupDetail:
    gw = _gateway(cluster)
    if not group:
        raise NotFound("No such consumer group.")
    missing = f"Consumer group '{group}' does not exist in cluster '{cluster.name}'."
    try:
        wire_id = gw.wire_name(group)  # shown on the page and kept in the audit trail
    except NameOutsideCluster:
        raise NotFound(missing) from None
    desc = gw.describe_consumer_groups([group]).get(group)
    committed = gw.list_consumer_group_offsets([group])
    if (desc is None or desc.state in _GONE_STATES) and not committed.get(group):
        raise NotFound(missing)
    members = [
        MemberRow(m.member_id, m.client_id, m.host, m.assignment)
        for m in (desc.members if desc else ())
    ]
    return GroupDetail(
        group=group,
        wire_id=wire_id,
        state=desc.state if desc else "EMPTY",
        type=desc.type if desc else "",
        partition_assignor=desc.partition_assignor if desc else "",
        coordinator=desc.coordinator if desc else None,
        members=members,
        partitions=_lags(gw, committed).get(group, []),
    )


def topic_consumer_groups(gw: ClusterGateway, topic: str) -> list[TopicGroupLag]:
    """Groups of the cluster with committed offsets on one topic (short name), with their lag."""
    states = gw.list_consumer_groups()
    if not states:
        return []
    committed = gw.list_consumer_group_offsets(list(states))
    reading = {
        g: {tp: o for tp, o in offsets.items() if tp[0] == topic}
        for g, offsets in committed.items()
    }
    reading = {g: offsets for g, offsets in reading.items() if offsets}
    if not reading:
        return []
    descriptions = gw.describe_consumer_groups(list(reading))
    lags = _lags(gw, reading)
    return [
        TopicGroupLag(
            group=g,
            state=descriptions[g].state if g in descriptions else states[g],
            members=len(descriptions[g].members) if g in descriptions else 0,
            lag=sum(p.lag for p in lags.get(g, [])),
            partitions=len(lags.get(g, [])),
        )
        for g in sorted(reading)
    ]


def _require_no_members(detail: GroupDetail, doing: str) -> None:
    if detail.members:
        count = len(detail.members)
        raise ValidationFailed(
            {
                "group": f"Consumer group '{detail.group}' has {count} active "
                f"member{'s' if count != 1 else ''} ({detail.state}). Stop its consumers "
                f"before you {doing}: Kafka only allows this for an EMPTY group."
            }
        )


def group_reset_offsets(
    *,
    cluster: Cluster,
    group: str,
    to: str,
    topic: str | None = None,
    timestamp: datetime | int | None = None,
    offset: object = None,
    dry_run: bool = False,
) -> dict[tuple[str, int], int]:
    """Reset an EMPTY group's committed offsets, for one topic or all it has offsets for.

    Returns {(short topic, partition): new offset}. With `dry_run` every check runs and the
    offsets are computed, but nothing is committed or audited (what `kafka-consumer-groups
    --reset-offsets` without `--execute` shows).
    """
    if to not in RESET_TARGETS:
        raise ValidationFailed({"to": f"Reset to one of: {', '.join(RESET_TARGETS)}."})
    timestamp_ms = 0  # read only when to == "timestamp"
    explicit = 0  # read only when to == "offset"
    if to == "timestamp":
        if timestamp in (None, ""):
            raise ValidationFailed({"timestamp": "Give the timestamp to reset to."})
        if isinstance(timestamp, datetime):
            if timestamp.tzinfo is None:
                raise ValidationFailed({"timestamp": "Give a timestamp with a time zone (UTC)."})
            timestamp_ms = int(timestamp.timestamp() * 1000)
        else:
            try:
                timestamp_ms = int(timestamp)
            except (TypeError, ValueError):
                raise ValidationFailed(
                    {"timestamp": "Timestamp must be ISO 8601 or milliseconds."}
                ) from None
    if to == "offset":
        try:
            explicit = int(str(offset).strip())
        except (TypeError, ValueError):
            raise ValidationFailed({"offset": "Offset must be a whole number ≥ 0."}) from None
        if explicit < 0:
            raise ValidationFailed({"offset": "Offset must be a whole number ≥ 0."})
        if not topic:
            raise ValidationFailed({"topic": "An explicit offset is reset per topic: pick one."})
    detail = group_get(cluster=cluster, group=group)
    _require_no_members(detail, "reset its offsets")
    gw = _gateway(cluster)
    if topic:
        described = gw.list_topics().get(topic)
        if described is None:
            raise ValidationFailed({"topic": f"Topic '{topic}' does not exist in this cluster."})
        parts = [(topic, p.id) for p in described.partitions]
    else:
        parts = [(p.topic, p.partition) for p in detail.partitions]
        if not parts:
            raise ValidationFailed(
                {"topic": "This group has no committed offsets yet: pick a topic to reset."}
            )
    bounds = gw.list_partition_offsets(parts)
    if to == "earliest":
        target = {tp: bounds[tp].start for tp in parts if tp in bounds}
    elif to == "latest":
        target = {tp: bounds[tp].end for tp in parts if tp in bounds}
    elif to == "timestamp":
        found = gw.offsets_for_timestamp(parts, timestamp_ms)
        target = {tp: (o if o >= 0 else bounds[tp].end) for tp, o in found.items() if tp in bounds}
    else:
        for tp in parts:
            b = bounds.get(tp)
            if b is not None and not b.start <= explicit <= b.end:
                raise ValidationFailed(
                    {
                        "offset": f"Offset {explicit} is outside partition {tp[1]}'s range "
                        f"{b.start}–{b.end}."
                    }
                )
        target = {tp: explicit for tp in parts}
    before = {f"{x.topic}-{x.partition}": x.committed for x in detail.partitions}
    result = dict(target)
    if dry_run:
        return result
    with transaction.atomic():
        gw.alter_consumer_group_offsets(detail.group, target)
        audit_record(
            team=cluster.team,
            action="consumer_group.reset_offsets",
            target_type="consumergroup",
            target_id=detail.wire_id,
            target_repr=detail.wire_id,
            before=before,
            after={
                "to": to,
                "topic": topic,
                "offsets": {f"{t}-{p}": o for (t, p), o in sorted(result.items())},
            },
        )
    groups_changed(cluster)
    return result


def group_delete(*, cluster: Cluster, group: str) -> None:
    detail = group_get(cluster=cluster, group=group)
    _require_no_members(detail, "delete it")
    with transaction.atomic():
        _gateway(cluster).delete_consumer_groups([detail.group])
        audit_record(
            team=cluster.team,
            action="consumer_group.delete",
            target_type="consumergroup",
            target_id=detail.wire_id,
            target_repr=detail.wire_id,
            before={"state": detail.state, "topics": detail.topics},
        )
    groups_changed(cluster, gone=detail.group)
