"""Log directories: the size of every partition replica on every broker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
