"""Consumer groups: list, describe, delete, and their committed offsets."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import (
    TopicPartition,
)

from fleet.kafka.connection import KafkaConnection, _admin, _await, _request_timeout, _result
from fleet.kafka.errors import KafkaGatewayError, _from_exception, _from_kafka_error
from fleet.kafka.types import GroupDescription, GroupMemberDescription, TopicPartitionKey


def list_consumer_groups(conn: KafkaConnection) -> dict[str, str]:
    """Group id -> state name (e.g. 'STABLE', 'EMPTY') of every group the connection may see."""
    context = "Listing consumer groups"
    with _admin(conn) as (admin, trap, deadline):
        future = admin.list_consumer_groups(request_timeout=_request_timeout(deadline))
        _await(admin, trap, deadline, [future], context)
        result = _result(future, context)
        # A group listing asks every broker; one that did not answer in time is reported here,
        # not as a failed future. Raised inside the block, so a timeout names the cell.
        if result.errors:
            raise _from_exception(result.errors[0], context)
    return {
        listing.group_id: getattr(listing.state, "name", str(listing.state))
        for listing in sorted(result.valid, key=lambda g: g.group_id)
    }


def delete_consumer_groups(conn: KafkaConnection, group_ids: Sequence[str]) -> None:
    """Delete groups (and their committed offsets). A group that no longer exists is fine."""
    if not group_ids:
        return
    context = f"Deleting consumer groups {', '.join(group_ids)}"
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.delete_consumer_groups(
            list(group_ids), request_timeout=_request_timeout(deadline)
        )
        _await(admin, trap, deadline, futures.values(), context)
        for future in futures.values():
            try:
                _result(future, context)
            except KafkaGatewayError as exc:
                if exc.kafka_error not in {"GROUP_ID_NOT_FOUND"}:
                    raise


def _state_name(state: Any) -> str:
    return getattr(state, "name", None) or str(state or "UNKNOWN").upper()


def describe_consumer_groups(
    conn: KafkaConnection, group_ids: Sequence[str]
) -> dict[str, GroupDescription]:
    """State, assignor and members (client id, host, assigned partitions) of each group."""
    if not group_ids:
        return {}
    context = "Describing consumer groups"
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.describe_consumer_groups(
            list(dict.fromkeys(group_ids)), request_timeout=_request_timeout(deadline)
        )
        _await(admin, trap, deadline, futures.values(), context)
    out: dict[str, GroupDescription] = {}
    for group_id, future in futures.items():
        try:
            desc = _result(future, f"Describing consumer group '{group_id}'")
        except KafkaGatewayError as exc:
            if exc.kafka_error in {"GROUP_ID_NOT_FOUND"}:
                continue
            raise
        members = tuple(
            GroupMemberDescription(
                member_id=m.member_id,
                client_id=m.client_id,
                host=m.host,
                group_instance_id=m.group_instance_id,
                assignment=tuple(
                    sorted(
                        (tp.topic, tp.partition)
                        for tp in (m.assignment.topic_partitions if m.assignment else ())
                    )
                ),
            )
            for m in desc.members
        )
        out[group_id] = GroupDescription(
            group_id=group_id,
            state=_state_name(desc.state),
            type=_state_name(getattr(desc, "type", None)),
            partition_assignor=desc.partition_assignor or "",
            coordinator=desc.coordinator.id if desc.coordinator is not None else None,
            members=members,
        )
    return out


def list_consumer_group_offsets(
    conn: KafkaConnection, group_ids: Sequence[str]
) -> dict[str, dict[TopicPartitionKey, int]]:
    """Committed offsets of each group (one request per group, all in flight together)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    if not group_ids:
        return {}
    context = "Reading committed offsets"
    with _admin(conn) as (admin, trap, deadline):
        futures: dict[str, concurrent.futures.Future[Any]] = {}
        for group_id in dict.fromkeys(group_ids):
            futures.update(
                admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group_id)],
                    request_timeout=_request_timeout(deadline),
                )
            )
        _await(admin, trap, deadline, futures.values(), context)
    out: dict[str, dict[TopicPartitionKey, int]] = {}
    for group_id, future in futures.items():
        try:
            result = _result(future, f"Reading committed offsets of group '{group_id}'")
        except KafkaGatewayError as exc:
            if exc.kafka_error in {"GROUP_ID_NOT_FOUND"}:
                out[group_id] = {}
                continue
            raise
        out[group_id] = {
            (tp.topic, tp.partition): tp.offset
            for tp in result.topic_partitions or ()
            if tp.offset >= 0 and tp.error is None
        }
    return out


def alter_consumer_group_offsets(
    conn: KafkaConnection, group_id: str, offsets: Mapping[TopicPartitionKey, int]
) -> None:
    """Set committed offsets of a group (Kafka refuses while the group has members)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    if not offsets:
        return
    context = f"Resetting offsets of consumer group '{group_id}'"
    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
    )
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.alter_consumer_group_offsets(
            [request], request_timeout=_request_timeout(deadline)
        )
        _await(admin, trap, deadline, futures.values(), context)
        result = _result(next(iter(futures.values())), context)
    for tp in result.topic_partitions or ():
        if tp.error is not None:
            raise _from_kafka_error(tp.error, context)
