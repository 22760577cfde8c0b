"""Partition reassignments, replication throttles and leader elections (platform only, issue 14).

What a rebalance needs from Kafka, and nothing a tenant may call:
- `partition_assignments`: every partition's replica list (first = preferred leader), internal
  topics included (``internal_topics`` says which those are);
- `partition_sizes`: bytes per partition (the largest replica), from DescribeLogDirs;
- `alter_reassignments` / `list_reassignments`: AlterPartitionReassignments (None cancels one)
  and ListPartitionReassignments, through kafka-python (librdkafka has neither);
- `set_replication_throttle` / `clear_replication_throttle` / `throttles_present`: the broker
  rates ``leader.replication.throttled.rate`` and ``follower.replication.throttled.rate``
  (dynamic per-broker configs) and the topic lists ``leader.replication.throttled.replicas``
  (the replicas that serve the copy) and ``follower.replication.throttled.replicas`` (the new
  replicas that fetch it), as Kafka's own reassignment tool sets them;
- `elect_preferred_leaders`: ElectLeaders (PREFERRED), so each partition is led by its first
  replica again after the moves.

Skiff's AlterConfigPolicy refuses every topic config outside the tenant-settable table, except
the two throttled-replica lists, which it accepts as ``partition:broker`` lists only (never
``*``): they are the platform's during a rebalance (fleet/policy/, TopicRules.OPERATIONAL).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka.admin import ResourceType

from fleet.kafka.configs import (
    _describe_configs,
    _incremental_alter_configs,
    describe_many_topic_configs,
)
from fleet.kafka.connection import KafkaConnection, _kafka_python_admin, _kafka_python_call
from fleet.kafka.errors import KafkaGatewayError, _from_kafka_python
from fleet.kafka.topics import list_topics
from fleet.kafka.types import TopicPartitionKey

LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
LEADER_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_REPLICAS = "follower.replication.throttled.replicas"
BROKER_THROTTLE_KEYS = (LEADER_RATE, FOLLOWER_RATE)
TOPIC_THROTTLE_KEYS = (LEADER_REPLICAS, FOLLOWER_REPLICAS)


T = TypeVar("T")


class _Session:
    """One kafka-python admin client reused by the calls inside `admin_session`."""

    def __init__(self, conn: KafkaConnection) -> None:
        self.conn = conn
        self.admin: Any = None

    def close(self) -> None:
        if self.admin is not None:
            try:
                self.admin.close()
            finally:
                self.admin = None


_session: ContextVar[_Session | None] = ContextVar("skiff_reassignment_session", default=None)


@contextmanager
def admin_session(conn: KafkaConnection) -> Iterator[None]:
    """Reuse one kafka-python admin client for the calls made inside (a rebalance polls
    ListPartitionReassignments every second; a new client costs a TLS + SCRAM handshake with
    every broker). A client that failed is dropped and the next call makes a new one."""
    session = _Session(conn)
    token = _session.set(session)
    try:
        yield
    finally:
        _session.reset(token)
        session.close()


def _call(conn: KafkaConnection, context: str, fn: Callable[[Any], T]) -> T:
    session = _session.get()
    if session is None or session.conn != conn:
        return _kafka_python_call(conn, context, fn)
    from kafka import errors as kp_errors

    try:
        if session.admin is None:
            session.admin = _kafka_python_admin(conn)
        return fn(session.admin)
    except kp_errors.KafkaError as exc:
        session.close()
        raise _from_kafka_python(exc, context, cell=conn.cell_name, timeout=conn.timeout) from exc


@dataclass(frozen=True)
class OngoingReassignment:
    """A reassignment still running: the full replica set and what is added or removed."""

    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]


def internal_topics(names: Iterable[str]) -> set[str]:
    """Kafka's and the platform's own topics (``__consumer_offsets``, ``_schemas``…)."""
    return {name for name in names if name.startswith("_")}


def partition_assignments(conn: KafkaConnection) -> dict[TopicPartitionKey, list[int]]:
    """Every partition's replica list, internal topics included, from the cluster metadata.

    During a reassignment the list holds the adding replicas too; plan from a quiet cell.
    """
    out: dict[TopicPartitionKey, list[int]] = {}
    for name, topic in list_topics(conn, include_internal=True).items():
        for partition in topic.partitions:
            out[(name, partition.id)] = list(partition.replicas)
    return dict(sorted(out.items()))


def partition_sizes(conn: KafkaConnection) -> dict[TopicPartitionKey, int]:
    """Bytes per partition: its largest replica on any broker (DescribeLogDirs, all topics)."""

    def call(admin: Any) -> list[dict[str, Any]]:
        return admin.describe_log_dirs()

    out: dict[TopicPartitionKey, int] = {}
    for broker in _call(conn, "Reading partition sizes", call):
        for log_dir in broker.get("log_dirs", ()):
            if log_dir.get("error_code"):
                continue
            for topic in log_dir.get("topics", ()):
                for part in topic.get("partitions", ()):
                    if part.get("is_future_key"):
                        continue
                    key = (topic["name"], int(part["partition_index"]))
                    out[key] = max(out.get(key, 0), int(part["partition_size"]))
    return dict(sorted(out.items()))


def _raise_partition_errors(results: Mapping[Any, Any], context: str, conn: KafkaConnection):
    failed = {tp: err for tp, err in results.items() if err is not None}
    if not failed:
        return
    tp, err = sorted(failed.items(), key=lambda item: (item[0].topic, item[0].partition))[0]
    exc = err() if isinstance(err, type) else err
    raise _from_kafka_python(
        exc,
        f"{context} (partition {tp.topic}-{tp.partition}, {len(failed)} failed)",
        cell=conn.cell_name,
        timeout=conn.timeout,
    )


def alter_reassignments(
    conn: KafkaConnection, moves: Mapping[TopicPartitionKey, Sequence[int] | None]
) -> set[TopicPartitionKey]:
    """Start reassignments (a replica list) or cancel running ones (None).

    Cancelling a partition that is not being reassigned (any more) is not an error: those
    partitions are returned, so a caller knows which cancels came too late.
    """
    if not moves:
        return set()
    from kafka import errors as kp_errors
    from kafka.structs import TopicPartition

    context = "Reassigning partitions"
    request = {
        TopicPartition(topic, partition): (None if replicas is None else [int(b) for b in replicas])
        for (topic, partition), replicas in moves.items()
    }

    def call(admin: Any) -> dict[Any, Any]:
        return admin.alter_partition_reassignments(request)

    results = _call(conn, context, call)
    benign = kp_errors.NoReassignmentInProgressError
    not_running = {
        (tp.topic, tp.partition)
        for tp, err in results.items()
        if isinstance(err, type) and issubclass(err, benign)
    }
    failed = {
        tp: err
        for tp, err in results.items()
        if err is not None and (tp.topic, tp.partition) not in not_running
    }
    _raise_partition_errors(failed, context, conn)
    return not_running


def list_reassignments(
    conn: KafkaConnection, partitions: Collection[TopicPartitionKey] | None = None
) -> dict[TopicPartitionKey, OngoingReassignment]:
    """The reassignments still running (all of them, or among `partitions`)."""
    query: dict[str, list[int]] | None = None
    if partitions is not None:
        if not partitions:
            return {}
        query = {}
        for topic, partition in partitions:
            query.setdefault(topic, []).append(partition)

    def call(admin: Any) -> dict[Any, Any]:
        return admin.list_partition_reassignments(query)

    raw = _call(conn, "Listing partition reassignments", call)
    return {
        (tp.topic, tp.partition): OngoingReassignment(
            replicas=tuple(info["replicas"]),
            adding=tuple(info["adding_replicas"]),
            removing=tuple(info["removing_replicas"]),
        )
        for tp, info in sorted(raw.items(), key=lambda item: (item[0].topic, item[0].partition))
    }


def throttled_replica_lists(
    moves: Mapping[TopicPartitionKey, tuple[Sequence[int], Sequence[int]]],
) -> dict[str, dict[str, str]]:
    """The topic configs for a set of moves {(topic, p): (from replicas, to replicas)}.

    Leaders: every current replica may serve the copy; followers: the replicas being added.
    """
    leaders: dict[str, list[str]] = {}
    followers: dict[str, list[str]] = {}
    for (topic, partition), (before, after) in sorted(moves.items()):
        for broker in before:
            leaders.setdefault(topic, []).append(f"{partition}:{broker}")
        for broker in after:
            if broker not in before:
                followers.setdefault(topic, []).append(f"{partition}:{broker}")
    out: dict[str, dict[str, str]] = {}
    for topic in sorted(set(leaders) | set(followers)):
        out[topic] = {
            LEADER_REPLICAS: ",".join(leaders.get(topic, [])),
            FOLLOWER_REPLICAS: ",".join(followers.get(topic, [])),
        }
    return out


def set_replication_throttle(
    conn: KafkaConnection,
    *,
    rate: int,
    broker_ids: Iterable[int],
    replicas_by_topic: Mapping[str, Mapping[str, str]],
) -> None:
    """Throttle replication of the listed replicas to `rate` bytes/s per broker.

    `replicas_by_topic` is what `throttled_replica_lists` returns. A topic list replaces the
    previous one of that topic (the batch before).
    """
    if rate <= 0:
        raise ValueError("The replication throttle must be a positive rate in bytes/s.")
    for broker in sorted(set(broker_ids)):
        _incremental_alter_configs(
            conn,
            ResourceType.BROKER,
            str(broker),
            dict.fromkeys(BROKER_THROTTLE_KEYS, str(int(rate))),
            f"Setting the replication throttle of broker {broker}",
        )
    for topic, lists in sorted(replicas_by_topic.items()):
        changes: dict[str, str | None] = {
            key: (lists.get(key) or None) for key in TOPIC_THROTTLE_KEYS
        }
        _incremental_alter_configs(
            conn,
            ResourceType.TOPIC,
            topic,
            changes,
            f"Setting the replication throttle of topic '{topic}'",
        )


def clear_replication_throttle(
    conn: KafkaConnection, *, broker_ids: Iterable[int], topics: Iterable[str]
) -> None:
    """Remove the throttle rates of the brokers and the throttled-replica lists of the topics.

    Idempotent; a topic deleted meanwhile and a broker that left are skipped, and every other
    one is still cleared before the first other error is raised.
    """
    from fleet.kafka.errors import UnknownTopic

    first_error: KafkaGatewayError | None = None
    for broker in sorted(set(broker_ids)):
        try:
            _incremental_alter_configs(
                conn,
                ResourceType.BROKER,
                str(broker),
                dict.fromkeys(BROKER_THROTTLE_KEYS),
                f"Clearing the replication throttle of broker {broker}",
            )
        except KafkaGatewayError as exc:
            first_error = first_error or exc
    for topic in sorted(set(topics)):
        try:
            _incremental_alter_configs(
                conn,
                ResourceType.TOPIC,
                topic,
                dict.fromkeys(TOPIC_THROTTLE_KEYS),
                f"Clearing the replication throttle of topic '{topic}'",
            )
        except UnknownTopic:
            continue
        except KafkaGatewayError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error


def throttles_present(
    conn: KafkaConnection, *, broker_ids: Iterable[int] | None = None
) -> dict[str, dict[str, dict[str, str]]]:
    """Every replication throttle set on the cell: {"brokers": {id: {key: value}}, "topics":
    {topic: {key: value}}}; empty dicts when there is none (what tests and pages check)."""
    if broker_ids is None:
        from fleet.kafka.topics import describe_cluster

        broker_ids = [b.node_id for b in describe_cluster(conn).brokers]
    brokers: dict[str, dict[str, str]] = {}
    for broker in sorted(set(broker_ids)):
        entries = _describe_configs(
            conn,
            _broker_resource(broker),
            f"Reading the replication throttle of broker {broker}",
        )
        found = {
            key: entries[key].value or ""
            for key in BROKER_THROTTLE_KEYS
            if key in entries
            and entries[key].source == "DYNAMIC_BROKER_CONFIG"
            and entries[key].value
        }
        if found:
            brokers[str(broker)] = found
    names = sorted(list_topics(conn, include_internal=True))
    topics: dict[str, dict[str, str]] = {}
    for name, entries in describe_many_topic_configs(conn, names, TOPIC_THROTTLE_KEYS).items():
        found = {key: e.value for key, e in entries.items() if e.value and not e.is_default}
        if found:
            topics[name] = {k: v for k, v in found.items() if v is not None}
    return {"brokers": brokers, "topics": topics}


def _broker_resource(broker: int) -> Any:
    from confluent_kafka.admin import ConfigResource

    return ConfigResource(ResourceType.BROKER, str(broker))


def elect_preferred_leaders(
    conn: KafkaConnection, partitions: Collection[TopicPartitionKey] | None = None
) -> dict[TopicPartitionKey, str]:
    """Make each partition's first replica its leader again (ElectLeaders, PREFERRED).

    Returns the partitions whose election failed, with Kafka's error name (e.g. the preferred
    replica is not in the ISR yet); partitions already led by it are not failures.
    """
    from kafka import errors as kp_errors

    query: dict[str, list[int]] | None = None
    if partitions is not None:
        if not partitions:
            return {}
        query = {}
        for topic, partition in sorted(partitions):
            query.setdefault(topic, []).append(partition)

    def call(admin: Any) -> Any:
        return admin.elect_leaders(0, query, raise_errors=False)

    response = _call(conn, "Electing preferred leaders", call)
    failed: dict[TopicPartitionKey, str] = {}
    for result in response.replica_election_results:
        for part in result.partition_result:
            err = kp_errors.for_code(part.error_code)
            if err is kp_errors.NoError or err is kp_errors.ElectionNotNeededError:
                continue
            failed[(result.topic, part.partition_id)] = err.__name__
    return failed


__all__ = [
    "BROKER_THROTTLE_KEYS",
    "TOPIC_THROTTLE_KEYS",
    "OngoingReassignment",
    "admin_session",
    "alter_reassignments",
    "clear_replication_throttle",
    "elect_preferred_leaders",
    "internal_topics",
    "list_reassignments",
    "partition_assignments",
    "partition_sizes",
    "set_replication_throttle",
    "throttled_replica_lists",
    "throttles_present",
]
