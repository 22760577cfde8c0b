"""Consumer groups of a serverless cluster: list with lag, detail, reset offsets, delete.

Group ids carry the cluster's wire prefix on Kafka; the console shows short ids. Lag of a
partition is its end offset minus the group's committed offset (never negative).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from clusters.models import Cluster
from console.audit import audit_record
from fleet.kafka import gateway
from fleet.kafka.connection import KafkaConnection
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


def _conn(cluster: Cluster) -> KafkaConnection:
    if cluster.cell_id is None or cluster.state != Cluster.State.ACTIVE:
        raise ValidationError(f"Cluster '{cluster.name}' is {cluster.state}, not ACTIVE.")
    from clusters.services.topics import admin_connection_for

    return admin_connection_for(cluster)


def _wire_groups(conn: KafkaConnection, prefix: str) -> dict[str, str]:
    return {g: s for g, s in gateway.list_consumer_groups(conn).items() if g.startswith(prefix)}


def _lags(
    conn: KafkaConnection, prefix: str, committed: dict[str, dict[TopicPartitionKey, int]]
) -> dict[str, list[PartitionLag]]:
    parts = {tp for offsets in committed.values() for tp in offsets if tp[0].startswith(prefix)}
    ends = gateway.list_partition_offsets(conn, parts)
    out: dict[str, list[PartitionLag]] = {}
    for group, offsets in committed.items():
        rows = []
        for (topic, partition), offset in sorted(offsets.items()):
            if not topic.startswith(prefix):
                continue
            end = ends.get((topic, partition))
            rows.append(
                PartitionLag(
                    topic=topic[len(prefix) :],
                    partition=partition,
                    committed=offset,
                    end=end.end if end else None,
                    start=end.start if end else None,
                )
            )
        out[group] = rows
    return out


def group_list(*, cluster: Cluster, search: str = "") -> list[GroupRow]:
    """Every group of the cluster with state, member count, topics and total lag."""
    conn = _conn(cluster)
    prefix = cluster.wire_prefix
    states = _wire_groups(conn, prefix)
    needle = (search or "").strip().lower()
    ids = [g for g in states if needle in g[len(prefix) :].lower()]
    if not ids:
        return []
    descriptions = gateway.describe_consumer_groups(conn, ids)
    lags = _lags(conn, prefix, gateway.list_consumer_group_offsets(conn, ids))
    rows = []
    for wire_id in sorted(ids):
        desc = descriptions.get(wire_id)
        partitions = lags.get(wire_id, [])
        rows.append(
            GroupRow(
                group=wire_id[len(prefix) :],
                state=desc.state if desc else states[wire_id],
                members=len(desc.members) if desc else 0,
                topics=sorted({p.topic for p in partitions}),
                lag=sum(p.lag for p in partitions),
            )
        )
    return rows


def _strip(prefix: str, assignment) -> tuple[tuple[str, int], ...]:
    return tuple((t[len(prefix) :] if t.startswith(prefix) else t, p) for t, p in assignment)


def group_get(*, cluster: Cluster, group: str) -> GroupDetail:
    conn = _conn(cluster)
    prefix = cluster.wire_prefix
    wire_id = f"{prefix}{group}"
    if not group:
        raise Http404("No such consumer group.")
    desc = gateway.describe_consumer_groups(conn, [wire_id]).get(wire_id)
    committed = gateway.list_consumer_group_offsets(conn, [wire_id])
    if (desc is None or desc.state in _GONE_STATES) and not committed.get(wire_id):
        raise Http404(f"Consumer group '{group}' does not exist in cluster '{cluster.name}'.")
    members = [
        MemberRow(m.member_id, m.client_id, m.host, _strip(prefix, m.assignment))
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
        partitions=_lags(conn, prefix, committed).get(wire_id, []),
    )


def topic_consumer_groups(conn: KafkaConnection, prefix: str, wire_topic: str) -> list:
    """Groups of the cluster with committed offsets on one topic, with their lag on it."""
    from clusters.services.topics import TopicGroupLag

    states = _wire_groups(conn, prefix)
    if not states:
        return []
    committed = gateway.list_consumer_group_offsets(conn, list(states))
    reading = {
        g: {tp: o for tp, o in offsets.items() if tp[0] == wire_topic}
        for g, offsets in committed.items()
    }
    reading = {g: offsets for g, offsets in reading.items() if offsets}
    if not reading:
        return []
    descriptions = gateway.describe_consumer_groups(conn, list(reading))
    lags = _lags(conn, prefix, reading)
    return [
        TopicGroupLag(
            group=g[len(prefix) :],
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
        raise ValidationError(
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
) -> dict[tuple[str, int], int]:
    """Reset an EMPTY group's committed offsets, for one topic or all it has offsets for.

    Returns {(short topic, partition): new offset}.
    """
    if to not in RESET_TARGETS:
        raise ValidationError({"to": f"Reset to one of: {', '.join(RESET_TARGETS)}."})
    timestamp_ms: int | None = None
    explicit: int | None = None
    if to == "timestamp":
        if timestamp in (None, ""):
            raise ValidationError({"timestamp": "Give the timestamp to reset to."})
        if isinstance(timestamp, datetime):
            if timestamp.tzinfo is None:
                raise ValidationError({"timestamp": "Give a timestamp with a time zone (UTC)."})
            timestamp_ms = int(timestamp.timestamp() * 1000)
        else:
            try:
                timestamp_ms = int(timestamp)
            except (TypeError, ValueError):
                raise ValidationError(
                    {"timestamp": "Timestamp must be ISO 8601 or milliseconds."}
                ) from None
    if to == "offset":
        try:
            explicit = int(str(offset).strip())
        except (TypeError, ValueError):
            raise ValidationError({"offset": "Offset must be a whole number ≥ 0."}) from None
        if explicit < 0:
            raise ValidationError({"offset": "Offset must be a whole number ≥ 0."})
        if not topic:
            raise ValidationError({"topic": "An explicit offset is reset per topic: pick one."})
    detail = group_get(cluster=cluster, group=group)
    _require_no_members(detail, "resetting its offsets")
    conn = _conn(cluster)
    prefix = cluster.wire_prefix
    if topic:
        wire_topic = f"{prefix}{topic}"
        described = gateway.list_topics(conn).get(wire_topic)
        if described is None:
            raise ValidationError({"topic": f"Topic '{topic}' does not exist in this cluster."})
        parts = [(wire_topic, p.id) for p in described.partitions]
    else:
        parts = [(f"{prefix}{p.topic}", p.partition) for p in detail.partitions]
        if not parts:
            raise ValidationError(
                {"topic": "This group has no committed offsets yet: pick a topic to reset."}
            )
    bounds = gateway.list_partition_offsets(conn, parts)
    if to == "earliest":
        target = {tp: bounds[tp].start for tp in parts if tp in bounds}
    elif to == "latest":
        target = {tp: bounds[tp].end for tp in parts if tp in bounds}
    elif to == "timestamp":
        found = gateway.offsets_for_timestamp(conn, parts, timestamp_ms)
        target = {tp: (o if o >= 0 else bounds[tp].end) for tp, o in found.items() if tp in bounds}
    else:
        for tp in parts:
            b = bounds.get(tp)
            if b is not None and not b.start <= explicit <= b.end:
                raise ValidationError(
                    {
                        "offset": f"Offset {explicit} is outside partition {tp[1]}'s range "
                        f"{b.start}–{b.end}."
                    }
                )
        target = {tp: explicit for tp in parts}
    before = {f"{x.topic}-{x.partition}": x.committed for x in detail.partitions}
    result = {(t[len(prefix) :], p): o for (t, p), o in target.items()}
    with transaction.atomic():
        gateway.alter_consumer_group_offsets(conn, detail.wire_id, target)
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
    return result


def group_delete(*, cluster: Cluster, group: str) -> None:
    detail = group_get(cluster=cluster, group=group)
    _require_no_members(detail, "deleting it")
    with transaction.atomic():
        gateway.delete_consumer_groups(_conn(cluster), [detail.wire_id])
        audit_record(
            team=cluster.team,
            action="consumer_group.delete",
            target_type="consumergroup",
            target_id=detail.wire_id,
            target_repr=detail.wire_id,
            before={"state": detail.state, "topics": detail.topics},
        )
