# ruff: noqa: F403, F405
"""The gateway as tests use it: every function of the fleet.kafka package under one name.

Tests act as the platform and as tenants' own clients, so they call the raw functions with any
connection. The clients only tests need (group consumers, transactional and measured producers,
requests sent straight to one broker) live here rather than in the application's gateway.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import (
    ConfigResource,
    NewTopic,
    ResourceType,
    UserScramCredentialDeletion,
)

from fleet.kafka import records
from fleet.kafka.acls import *
from fleet.kafka.configs import *
from fleet.kafka.configs import _describe_configs, _incremental_alter_configs
from fleet.kafka.connection import *
from fleet.kafka.connection import (
    _admin,
    _await,
    _base_config,
    _Deadline,
    _ErrorTrap,
    _import_kafka_python,
    _kafka_python_call,
    _request_timeout,
    _result,
    _send_to_node,
)
from fleet.kafka.errors import *
from fleet.kafka.errors import (
    _from_exception,
    _from_kafka_error,
    _kafka_python_error_name,
    _map_error,
)
from fleet.kafka.groups import *
from fleet.kafka.logdirs import *
from fleet.kafka.quotas import *
from fleet.kafka.records import *
from fleet.kafka.scram import *
from fleet.kafka.scram import _scram_mechanism
from fleet.kafka.topics import *
from fleet.kafka.topics import _metadata
from fleet.kafka.types import *


def produce(
    conn: KafkaConnection, topic: str, messages: Sequence[MessageInput], **options: Any
) -> int:
    """The gateway's one produce path, counting what was delivered."""
    return len(records.produce(conn, topic, messages, **options))


def describe_broker_configs(
    conn: KafkaConnection, broker_id: int
) -> dict[str, ConfigEntryDescription]:
    return _describe_configs(
        conn,
        ConfigResource(ResourceType.BROKER, str(broker_id)),
        f"Reading the configuration of broker {broker_id}",
    )


def delete_scram_user(
    conn: KafkaConnection,
    username: str,
    *,
    missing_ok: bool = True,
    mechanism: str = "SCRAM-SHA-512",
) -> bool:
    """Remove the user's credential. Returns False if there was none (and ``missing_ok``).

    Caution: on Kafka 4.3.1 a removal can leave a cell unable to authenticate anyone after a
    broker restart (see the note above ``RANDOM_SECRET_BYTES``); use revoke_scram_user().
    """
    context = f"Deleting credentials of user '{username}'"
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion(username, _scram_mechanism(mechanism))],
            request_timeout=_request_timeout(deadline),
        )
        _await(admin, trap, deadline, futures.values(), context)
        try:
            _result(futures[username], context)
        except UnknownUser:
            if missing_ok:
                return False
            raise
    return True


def consume(
    conn: KafkaConnection,
    topic: str,
    *,
    group_id: str,
    max_messages: int = 100,
    timeout: float | None = None,
    from_beginning: bool = True,
    stop_at_end: bool = True,
    commit: bool = True,
) -> list[ConsumedMessage]:
    """Read up to ``max_messages`` from ``topic`` as member of ``group_id``.

    Returns early once every assigned partition is at its end (``stop_at_end``), so reading a
    small topic does not wait for the whole timeout. Offsets are committed at the end
    (``commit``) so the next call with the same group continues where this one stopped.
    """
    context = f"Consuming from topic '{topic}'"
    timeout = conn.timeout if timeout is None else timeout
    deadline = _Deadline(timeout)
    trap = _ErrorTrap()
    conf = _base_config(conn, trap, "skiff-consumer")
    conf.update(
        {
            "group.id": group_id,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "session.timeout.ms": 10_000,
            "topic.metadata.propagation.max.ms": min(10_000, max(1000, int(timeout * 500))),
        }
    )
    consumer = Consumer(conf)
    out: list[ConsumedMessage] = []
    assigned: set[int] = set()
    at_end: set[int] = set()

    def on_assign(_c: Consumer, partitions: list[TopicPartition]) -> None:
        assigned.update(p.partition for p in partitions)

    def on_revoke(_c: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            assigned.discard(p.partition)
            at_end.discard(p.partition)

    try:
        consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        while len(out) < max_messages:
            trap.raise_if_fatal(context)
            if deadline.expired:
                break
            msg = consumer.poll(min(0.2, max(0.01, deadline.remaining())))
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    if stop_at_end and assigned and at_end >= assigned:
                        break
                    continue
                raise _from_kafka_error(err, context)
            at_end.discard(msg.partition())
            out.append(
                ConsumedMessage(
                    topic=msg.topic(),
                    partition=msg.partition(),
                    offset=msg.offset(),
                    key=msg.key(),
                    value=msg.value(),
                    timestamp_ms=msg.timestamp()[1] if msg.timestamp()[0] else None,
                    headers=tuple(msg.headers() or ()),
                )
            )
        trap.raise_if_fatal(context)
        if commit and out:
            consumer.commit(asynchronous=False)
        return out
    except KafkaException as exc:
        raise _from_exception(exc, context) from exc
    finally:
        consumer.close()


def create_topics(
    conn: KafkaConnection,
    topics: Sequence[tuple[str, int, Mapping[str, str]]],
    *,
    timeout: float | None = None,
) -> dict[str, KafkaGatewayError | None]:
    """Create many topics in one CreateTopics request (cell default RF).

    Returns per topic None (created) or the error it got, so one existing name does not hide
    the others. Does not wait for leaders (use list_topics to see them).
    """
    if not topics:
        return {}
    new = [
        NewTopic(name, num_partitions=partitions, replication_factor=-1, config=dict(configs))
        for name, partitions, configs in topics
    ]
    context = f"Creating {len(new)} topics"
    scaled = KafkaConnection(
        bootstrap=conn.bootstrap,
        username=conn.username,
        password=conn.password,
        ca_path=conn.ca_path,
        mechanism=conn.mechanism,
        timeout=timeout or conn.timeout,
        security_protocol=conn.security_protocol,
    )
    with _admin(scaled) as (admin, trap, deadline):
        futures = admin.create_topics(
            new,
            request_timeout=_request_timeout(deadline),
            operation_timeout=max(1.0, deadline.remaining() - 1.0),
        )
        _await(admin, trap, deadline, futures.values(), context)
    out: dict[str, KafkaGatewayError | None] = {}
    for name, future in futures.items():
        try:
            _result(future, f"Creating topic '{name}'")
            out[name] = None
        except KafkaGatewayError as exc:
            out[name] = exc
    return out


def describe_topic(conn: KafkaConnection, name: str) -> TopicDescription:
    """Metadata of one topic; raises KafkaAuthorizationFailed / UnknownTopic (never filters)."""
    context = f"Describing topic '{name}'"
    with _admin(conn) as (admin, trap, deadline):
        metadata = _metadata(admin, trap, deadline, name, context)
    topic = metadata.topics.get(name)
    if topic is None:
        raise UnknownTopic(
            f"{context}: the topic does not exist.", kafka_error="UNKNOWN_TOPIC_OR_PART"
        )
    if topic.error is not None:
        raise _from_kafka_error(topic.error, context)
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
    return TopicDescription(name=name, partitions=partitions)


def commit_group_offsets(
    conn: KafkaConnection, group_id: str, offsets: Mapping[tuple[str, int], int]
) -> None:
    """Commit offsets for a group as a client outside any generation (OffsetCommit)."""
    context = f"Committing offsets of group '{group_id}'"
    trap = _ErrorTrap()
    conf = _base_config(conn, trap, "skiff-committer")
    conf.update({"group.id": group_id, "enable.auto.commit": False})
    consumer = Consumer(conf)
    try:
        results = consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
        trap.raise_if_fatal(context)
        for tp in results or ():
            if tp.error is not None:
                raise _from_kafka_error(tp.error, context)
    except KafkaException as exc:
        raise _from_exception(exc, context) from exc
    finally:
        consumer.close()


def transactional_produce(
    conn: KafkaConnection,
    topic: str,
    messages: Sequence[bytes],
    *,
    transactional_id: str,
    timeout: float | None = None,
) -> int:
    """Produce ``messages`` in one committed transaction. Returns the number delivered."""
    context = f"Producing transactionally to topic '{topic}'"
    timeout = conn.timeout if timeout is None else timeout
    trap = _ErrorTrap()
    conf = _base_config(conn, trap, "skiff-txn-producer")
    conf.update(
        {
            "transactional.id": transactional_id,
            "transaction.timeout.ms": 60_000,
            "message.timeout.ms": max(1000, int(timeout * 1000)),
        }
    )
    producer = Producer(conf)
    try:
        producer.init_transactions(timeout)
        trap.raise_if_fatal(context)
        producer.begin_transaction()
        for value in messages:
            producer.produce(topic, value=value)
        producer.commit_transaction(timeout)
        return len(messages)
    except KafkaException as exc:
        raise _from_exception(exc, context) from exc
    finally:
        # A producer in a fatal state (e.g. refused transactional id) raises on purge/flush.
        with suppress(KafkaException):
            producer.purge()
            producer.flush(0)
        del producer


def alter_broker_configs(
    conn: KafkaConnection, broker_id: int, changes: Mapping[str, str | None]
) -> None:
    """Incrementally set (value) or delete (None) dynamic configs of one broker."""
    _incremental_alter_configs(
        conn,
        ResourceType.BROKER,
        str(broker_id),
        changes,
        f"Changing the configuration of broker {broker_id}",
    )


def produce_measured(
    conn: KafkaConnection,
    topic: str,
    *,
    total_bytes: int,
    message_bytes: int = 16_384,
    timeout: float = 60.0,
) -> list[tuple[float, int]]:
    """Produce ``total_bytes`` of payload as fast as the broker lets us (acks=all).

    Returns (seconds since start, payload bytes delivered so far) after every delivery, so a
    caller can compute throughput over any stretch, e.g. once a quota's burst is used up.
    """
    context = f"Producing to topic '{topic}'"
    trap = _ErrorTrap()
    conf = _base_config(conn, trap, "skiff-measured-producer")
    conf.update(
        {
            "acks": "all",
            "linger.ms": 0,
            "batch.size": message_bytes + 512,
            "message.timeout.ms": max(1000, int(timeout * 1000)),
        }
    )
    producer = Producer(conf)
    payload = b"x" * message_bytes
    points: list[tuple[float, int]] = []
    failures: list[KafkaError] = []
    delivered = 0
    started = time.monotonic()
    deadline = _Deadline(timeout)

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        nonlocal delivered
        if err is not None:
            failures.append(err)
            return
        delivered += len(msg.value() or b"")
        points.append((time.monotonic() - started, delivered))

    try:
        for _ in range(max(1, total_bytes // message_bytes)):
            while True:
                try:
                    producer.produce(topic, value=payload, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
            trap.raise_if_fatal(context)
            if failures:
                raise _from_kafka_error(failures[0], context)
            if deadline.expired:
                raise trap.timeout_error(context, timeout)
        while producer.flush(0.1) > 0:
            trap.raise_if_fatal(context)
            if failures:
                raise _from_kafka_error(failures[0], context)
            if deadline.expired:
                raise trap.timeout_error(context, timeout)
        if failures:
            raise _from_kafka_error(failures[0], context)
        return points
    except KafkaException as exc:
        raise _from_exception(exc, context) from exc
    finally:
        producer.purge()
        producer.flush(0)
        del producer


def delete_records_at_broker(
    conn: KafkaConnection, topic: str, partition: int, before: int, *, broker_id: int
) -> int:
    """DeleteRecords sent straight to one broker (kafka-python), skipping the metadata lookup.

    librdkafka first asks for the partition's leader, which an unauthorised client is refused
    before DeleteRecords is ever sent; this proves the broker's own check on DeleteRecords
    (Kafka authorises DELETE on the topic before it looks at leadership). Returns the new low
    watermark.
    """
    _import_kafka_python()
    from kafka.protocol.admin import DeleteRecordsRequest

    context = f"Deleting records of topic '{topic}'"
    request = DeleteRecordsRequest(
        topics=[(topic, [(partition, before)])], timeout_ms=int(conn.timeout * 1000)
    )

    def call(admin: Any) -> int:
        response = _send_to_node(admin, request, broker_id).to_dict()
        for t in response["topics"]:
            for p in t["partitions"]:
                if p["error_code"]:
                    raise _map_error(_kafka_python_error_name(p["error_code"]), "", context)
                return int(p["low_watermark"])
        raise KafkaGatewayError(f"{context}: the broker returned no result.")

    return _kafka_python_call(conn, context, call)


def commit_offsets_at_broker(
    conn: KafkaConnection,
    group_id: str,
    offsets: Mapping[tuple[str, int], int],
    *,
    broker_id: int,
) -> None:
    """OffsetCommit for a group sent straight to one broker, skipping FindCoordinator.

    librdkafka looks the coordinator up first (and keeps waiting when that is refused); Kafka
    authorises READ on the group before it checks it is the coordinator, so this shows the
    broker's own answer to a commit.
    """
    _import_kafka_python()
    from kafka.protocol.consumer import OffsetCommitRequest

    context = f"Committing offsets of group '{group_id}'"
    topic_cls = OffsetCommitRequest.OffsetCommitRequestTopic
    part_cls = topic_cls.OffsetCommitRequestPartition
    by_topic: dict[str, list[Any]] = {}
    for (topic, partition), offset in sorted(offsets.items()):
        by_topic.setdefault(topic, []).append(
            part_cls(
                partition_index=partition,
                committed_offset=offset,
                committed_leader_epoch=-1,
                committed_metadata="",
            )
        )
    request = OffsetCommitRequest(
        group_id=group_id,
        generation_id_or_member_epoch=-1,
        member_id="",
        group_instance_id=None,
        retention_time_ms=-1,
        topics=[topic_cls(name=name, partitions=parts) for name, parts in by_topic.items()],
        max_version=8,
    )

    def call(admin: Any) -> None:
        response = _send_to_node(admin, request, broker_id)
        for t in response.topics:
            for p in t.partitions:
                if p.error_code:
                    raise _map_error(_kafka_python_error_name(p.error_code), "", context)

    _kafka_python_call(conn, context, call)


def create_topic_with_assignment(
    conn: KafkaConnection, name: str, assignment: Sequence[Sequence[int]]
) -> None:
    """CreateTopics with explicit replica assignments (a list of broker ids per partition)."""
    context = f"Creating topic '{name}'"
    # confluent-kafka wants num_partitions = the assignment's length (and no replication factor).
    new = NewTopic(
        name,
        num_partitions=len(assignment),
        replica_assignment=[list(replicas) for replicas in assignment],
    )
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.create_topics([new], request_timeout=_request_timeout(deadline))
        _await(admin, trap, deadline, futures.values(), context)
        _result(futures[name], context)
