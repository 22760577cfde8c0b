"""Log directories: the size of every partition replica on every broker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.kafka.connection import KafkaConnection, _kafka_python_call
from fleet.kafka.types import TopicPartitionKey


def describe_log_dirs(
    conn: KafkaConnection, partitions: Mapping[str, Sequence[int]]
) -> dict[TopicPartitionKey, dict[int, int]]:
    """Size on disk of each partition replica: {(topic, partition): {broker id: bytes}}.

    One DescribeLogDirs request per broker for all the given partitions (kafka-python:
    librdkafka has no DescribeLogDirs).
    """
    if not partitions:
        return {}
    context = "Reading log directory sizes"
    request = {topic: list(ids) for topic, ids in partitions.items()}

    def call(admin: Any) -> list[dict[str, Any]]:
        return admin.describe_log_dirs(topic_partitions=request)

    out: dict[TopicPartitionKey, dict[int, int]] = {}
    for broker in _kafka_python_call(conn, context, call):
        for log_dir in broker.get("log_dirs", ()):
            if log_dir.get("error_code"):
                continue
            for topic in log_dir.get("topics", ()):
                for part in topic.get("partitions", ()):
                    if part.get("is_future_key"):
                        continue
                    sizes = out.setdefault((topic["name"], part["partition_index"]), {})
                    sizes[broker["broker"]] = int(part["partition_size"])
    return out


@dataclass(frozen=True)
class BrokerLogUsage:
    """What one broker's log directories hold (the autoscaler's disk and replica figures).

    `replicas` counts partition replicas (internal topics included: they load the broker too);
    `log_bytes` is their size. `total_bytes`/`usable_bytes` are the log directories' volume
    as Kafka reports it (DescribeLogDirs v4+); None when the broker does not say.
    """

    broker_id: int
    replicas: int
    log_bytes: int
    total_bytes: int | None
    usable_bytes: int | None


def broker_log_usage(conn: KafkaConnection) -> dict[int, BrokerLogUsage]:
    """Per broker: replicas, their bytes and the log volume size, for every topic at once."""
    context = "Reading the brokers' log directories"

    def call(admin: Any) -> list[dict[str, Any]]:
        return admin.describe_log_dirs()  # None: every topic, every partition

    out: dict[int, BrokerLogUsage] = {}
    for broker in _kafka_python_call(conn, context, call):
        replicas = log_bytes = 0
        total: int | None = None
        usable: int | None = None
        for log_dir in broker.get("log_dirs", ()):
            if log_dir.get("error_code"):
                continue
            for topic in log_dir.get("topics", ()):
                for part in topic.get("partitions", ()):
                    if part.get("is_future_key"):
                        continue
                    replicas += 1
                    log_bytes += int(part["partition_size"])
            # -1 when the broker does not know (older versions); several dirs add up.
            dir_total, dir_usable = log_dir.get("total_bytes", -1), log_dir.get("usable_bytes", -1)
            if dir_total is not None and dir_total >= 0:
                total = (total or 0) + int(dir_total)
            if dir_usable is not None and dir_usable >= 0:
                usable = (usable or 0) + int(dir_usable)
        out[int(broker["broker"])] = BrokerLogUsage(
            broker_id=int(broker["broker"]),
            replicas=replicas,
            log_bytes=log_bytes,
            total_bytes=total,
            usable_bytes=usable,
        )
    return out
