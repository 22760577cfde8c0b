"""Cluster metadata, topics, partitions, offsets and records (admin API)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    NewPartitions,
    NewTopic,
)

from fleet.kafka.connection import (
    KafkaConnection,
    _admin,
    _await,
    _Deadline,
    _ErrorTrap,
    _request_timeout,
    _result,
)
from fleet.kafka.errors import (
    _AUTHORIZATION,
    _UNAVAILABLE,
    KafkaGatewayError,
    KafkaUnavailable,
    UnknownTopic,
    _from_exception,
)
from fleet.kafka.types import (
    BrokerDescription,
    ClusterDescription,
    PartitionDescription,
    PartitionOffsets,
    TopicDescription,
    TopicPartitionKey,
)


def describe_cluster(conn: KafkaConnection) -> ClusterDescription:
    context = "Describing the cluster"
    with _admin(conn) as (admin, trap, deadline):
        future = admin.describe_cluster(request_timeout=_request_timeout(deadline))
        _await(admin, trap, deadline, [future], context)
        result = _result(future, context)
    brokers = tuple(
        sorted(
            (BrokerDescription(n.id, n.host, n.port, n.rack) for n in result.nodes),
            key=lambda b: b.node_id,
        )
    )
    controller = result.controller.id if result.controller is not None else None
    return ClusterDescription(
        cluster_id=result.cluster_id, controller_id=controller, brokers=brokers
    )


def list_topics(
    conn: KafkaConnection, *, include_internal: bool = False
) -> dict[str, TopicDescription]:
    """All topics the connection may describe (Kafka filters the list by ACL)."""
    context = "Listing topics"
    with _admin(conn) as (admin, trap, deadline):
        metadata = _metadata(admin, trap, deadline, None, context)
    topics: dict[str, TopicDescription] = {}
    for name, topic in metadata.topics.items():
        if not include_internal and name.startswith("__"):
            continue
        if topic.error is not None and topic.error.name() in _AUTHORIZATION:
            continue
        partitions = tuple(
            sorted(
                (
                    PartitionDescription(
                        id=p.id, leader=p.leader, replicas=tuple(p.replicas), isr=tuple(p.isrs)
                    )
                    for p in topic.partitions.values()
                ),
                key=lambda p: p.id,
            )
        )
        topics[name] = TopicDescription(name=name, partitions=partitions)
    return dict(sorted(topics.items()))


def _metadata(
    client: AdminClient | Consumer,
    trap: _ErrorTrap,
    deadline: _Deadline,
    topic: str | None,
    context: str,
) -> Any:
    # list_topics() blocks without serving error_cb; call it in short slices so an auth failure
    # (reported only through error_cb) ends the call within ~1 s.
    while True:
        trap.raise_if_fatal(context)
        if deadline.expired:
            raise trap.timeout_error(context, deadline.timeout)
        try:
            return client.list_topics(topic=topic, timeout=min(1.0, max(0.1, deadline.remaining())))
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not isinstance(err, KafkaError) or err.name() not in _UNAVAILABLE:
                raise _from_exception(exc, context) from exc
            client.poll(0)


def create_topic(
    conn: KafkaConnection,
    name: str,
    *,
    partitions: int,
    replication_factor: int | None = None,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create a topic; ``replication_factor=None`` uses the cell's default (RF 3 on 3+ nodes)."""
    context = f"Creating topic '{name}'"
    new = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor if replication_factor is not None else -1,
        config=dict(configs or {}),
    )
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.create_topics(
            [new],
            request_timeout=_request_timeout(deadline),
            operation_timeout=max(1.0, deadline.remaining() - 1.0),
        )
        _await(admin, trap, deadline, futures.values(), context)
        _result(futures[name], context)
        _wait_for_leaders(admin, trap, deadline, name, partitions, context)


def _wait_for_leaders(
    admin: AdminClient,
    trap: _ErrorTrap,
    deadline: _Deadline,
    name: str,
    partitions: int,
    context: str,
) -> None:
    """Return once a broker serves metadata for the topic with a leader for each partition.

    CreateTopics/CreatePartitions answer when the controller committed the change; brokers
    learn about it a moment later. Without this wait, an immediate produce or listing may not
    see the new topic or partitions.
    """
    while not deadline.expired:
        metadata = _metadata(admin, trap, deadline, name, context)
        topic = metadata.topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) >= partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.05)
    raise KafkaUnavailable(f"{context}: the topic was created but has no leaders yet.")


def delete_topic(conn: KafkaConnection, name: str, *, missing_ok: bool = False) -> bool:
    """Delete a topic. Returns False if it did not exist and ``missing_ok`` is set."""
    context = f"Deleting topic '{name}'"
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.delete_topics(
            [name],
            request_timeout=_request_timeout(deadline),
            operation_timeout=max(1.0, deadline.remaining() - 1.0),
        )
        _await(admin, trap, deadline, futures.values(), context)
        try:
            _result(futures[name], context)
        except UnknownTopic:
            if missing_ok:
                return False
            raise
    return True


def create_partitions(conn: KafkaConnection, name: str, *, total: int) -> None:
    """Grow a topic to ``total`` partitions (Kafka cannot shrink)."""
    context = f"Adding partitions to topic '{name}'"
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.create_partitions(
            [NewPartitions(name, total)],
            request_timeout=_request_timeout(deadline),
            operation_timeout=max(1.0, deadline.remaining() - 1.0),
        )
        _await(admin, trap, deadline, futures.values(), context)
        _result(futures[name], context)
        _wait_for_leaders(admin, trap, deadline, name, total, context)


def _tp_list(partitions: Iterable[TopicPartitionKey]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition) for topic, partition in dict.fromkeys(partitions)]


# Partitions whose leader moved or is not known yet are asked again, after 0.1 s, 0.2 s, 0.4 s…
# (at most 1 s apart) for up to this many seconds. A broker learns a new topic's leaders from
# the controller a moment after the creating client does; on a loaded host three quick rounds
# (0.6 s) were once not enough (a fresh-clone run failed a group list right after a topic's
# creation).
_LEADER_WAIT = 5.0


def list_partition_offsets(
    conn: KafkaConnection, partitions: Iterable[TopicPartitionKey]
) -> dict[TopicPartitionKey, PartitionOffsets]:
    """Start and end offsets of many partitions: two ListOffsets rounds for all of them.

    Partitions answered with a leadership error (stale metadata right after topics were created
    or moved) are asked again for up to _LEADER_WAIT seconds. A leader still unknown then fails
    the read; a partition whose leader kept moving, or that was deleted meanwhile, is left out.
    """
    from confluent_kafka.admin import OffsetSpec

    todo = _tp_list(partitions)
    context = "Reading partition offsets"
    starts: dict[TopicPartitionKey, int] = {}
    ends: dict[TopicPartitionKey, int] = {}
    give_up_at = time.monotonic() + _LEADER_WAIT
    pause = 0.1
    while todo:
        with _admin(conn) as (admin, trap, deadline):
            earliest = admin.list_offsets(
                {tp: OffsetSpec.earliest() for tp in todo},
                request_timeout=_request_timeout(deadline),
            )
            latest = admin.list_offsets(
                {tp: OffsetSpec.latest() for tp in todo},
                request_timeout=_request_timeout(deadline),
            )
            _await(admin, trap, deadline, [*earliest.values(), *latest.values()], context)
        last = time.monotonic() + pause > give_up_at
        retry = _offset_results(earliest, context, starts, last_round=last) | _offset_results(
            latest, context, ends, last_round=last
        )
        todo = [tp for tp in todo if (tp.topic, tp.partition) in retry]
        if last:
            break  # what is left moved or was unavailable at every round: left out
        if todo:
            time.sleep(pause)  # a wait for the leaders to be known, bounded by _LEADER_WAIT
            pause = min(1.0, 2 * pause)
    return {
        key: PartitionOffsets(start=starts[key], end=ends[key]) for key in ends if key in starts
    }


# A partition whose leader the client does not know right now: a topic being created or
# deleted while the list is read (librdkafka answers that partition with _NOENT, "Failed to
# query partition leaders: No leaders found"). Asked again; still unknown at the last round,
# the read fails as before: leaving it out would show a wrong count or lag without a word.
_LEADER_UNKNOWN = ("LEADER_NOT_AVAILABLE", "_NOENT")


def _offset_results(
    futures: Mapping[TopicPartition, concurrent.futures.Future[Any]],
    context: str,
    out: dict[TopicPartitionKey, int],
    *,
    last_round: bool = False,
) -> set[TopicPartitionKey]:
    """Fill ``out``; return the partitions worth asking again (leadership moved, or not known
    yet before the last round)."""
    retry: set[TopicPartitionKey] = set()
    for tp, future in futures.items():
        key = (tp.topic, tp.partition)
        try:
            out[key] = _result(future, context).offset
        except UnknownTopic:
            continue
        except KafkaGatewayError as exc:
            name = exc.kafka_error or ""
            moved = name.startswith("NOT_LEADER")
            unknown = name in _LEADER_UNKNOWN and not last_round
            if isinstance(exc, KafkaUnavailable) or moved or unknown:
                retry.add(key)
                continue
            raise
    return retry


def offsets_for_timestamp(
    conn: KafkaConnection, partitions: Iterable[TopicPartitionKey], timestamp_ms: int
) -> dict[TopicPartitionKey, int]:
    """Per partition, the first offset whose timestamp is >= ``timestamp_ms`` (-1 if none)."""
    from confluent_kafka.admin import OffsetSpec

    tps = _tp_list(partitions)
    if not tps:
        return {}
    context = "Looking up offsets by timestamp"
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.list_offsets(
            {tp: OffsetSpec.for_timestamp(timestamp_ms) for tp in tps},
            request_timeout=_request_timeout(deadline),
        )
        _await(admin, trap, deadline, futures.values(), context)
    return {
        (tp.topic, tp.partition): _result(future, context).offset for tp, future in futures.items()
    }


def delete_records(
    conn: KafkaConnection, before: Mapping[TopicPartitionKey, int]
) -> dict[TopicPartitionKey, int]:
    """Delete records below the given offsets (-1: the end). Returns each new low watermark."""
    if not before:
        return {}
    context = "Deleting records"
    tps = [TopicPartition(topic, part, offset) for (topic, part), offset in before.items()]
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.delete_records(
            tps,
            request_timeout=_request_timeout(deadline),
            operation_timeout=max(1.0, deadline.remaining() - 1.0),
        )
        _await(admin, trap, deadline, futures.values(), context)
    out: dict[TopicPartitionKey, int] = {}
    for tp, future in futures.items():
        result = _result(future, context)
        out[(tp.topic, tp.partition)] = result.low_watermark
    return out
