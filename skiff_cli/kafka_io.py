"""Produce and consume directly against a cluster with one of its access keys.

The console is not on the data path: like `confluent kafka topic produce`, the command line
speaks Kafka (SASL_SSL, SCRAM-SHA-512) to the bootstrap servers the API gave, with the
cluster's CA, and the broker enforces the key's ACLs. Topic and group names are the short
names the user knows; the cluster's wire prefix is added here, as every client snippet does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from skiff_cli.errors import EXIT_PERMISSION, EXIT_UNAVAILABLE, CliError


@dataclass(frozen=True)
class KafkaTarget:
    bootstrap_servers: str
    prefix: str
    username: str
    secret: str
    ca_path: str

    def config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": self.username,
            "sasl.password": self.secret,
            "ssl.ca.location": self.ca_path,
            "client.id": "skiff-cli",
        }


_DENIED = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    KafkaError._AUTHENTICATION,
}


def _fail(error: KafkaError, doing: str) -> CliError:
    code = EXIT_PERMISSION if error.code() in _DENIED else EXIT_UNAVAILABLE
    if error.code() == KafkaError._AUTHENTICATION:
        return CliError(
            f"Kafka refused the key's credentials while {doing}: {error.str()}", exit_code=code
        )
    if error.code() in _DENIED:
        return CliError(
            f"The key is not allowed to do this ({error.name()}) while {doing}. "
            "Its policy decides what it may do: skiff keys policy get.",
            exit_code=code,
        )
    if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
        return CliError(f"The topic does not exist (while {doing}).", exit_code=3)
    return CliError(f"Kafka error while {doing}: {error.str()}", exit_code=code)


def split_line(line: str, separator: str | None) -> tuple[str | None, str]:
    if separator is None:
        return None, line
    key, found, value = line.partition(separator)
    if not found:
        raise CliError(
            f"A line has no key separator {separator!r}: {line[:80]!r}. Every line must be "
            "KEY<separator>VALUE.",
            exit_code=2,
        )
    return key, value


def produce_lines(
    target: KafkaTarget,
    *,
    topic: str,
    lines: Iterable[str],
    key_separator: str | None,
    timeout: float,
) -> int:
    """Produce one record per line (idempotent, acks=all); return how many were acknowledged.

    Fails (non-zero exit) on the first record the broker refuses, naming why.
    """
    producer = Producer(
        {
            **target.config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": int(timeout * 1000),
        }
    )
    failures: list[KafkaError] = []
    acknowledged = 0

    def delivered(error: KafkaError | None, _message: Any) -> None:
        nonlocal acknowledged
        if error is not None:
            failures.append(error)
        else:
            acknowledged += 1

    wire_topic = target.prefix + topic
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if not line:
            continue
        key, value = split_line(line, key_separator)
        while True:
            try:
                producer.produce(
                    wire_topic,
                    value=value.encode(),
                    key=key.encode() if key is not None else None,
                    on_delivery=delivered,
                )
                break
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:
                raise _fail(exc.args[0], "producing") from exc
        producer.poll(0)
        if failures:
            break
    remaining = producer.flush(timeout)
    if failures:
        raise _fail(failures[0], "producing")
    if remaining:
        raise CliError(
            f"{remaining} record(s) were not acknowledged within {timeout:.0f} s.",
            exit_code=EXIT_UNAVAILABLE,
        )
    return acknowledged


@dataclass(frozen=True)
class ConsumedRecord:
    partition: int
    offset: int
    key: str | None
    value: str | None
    timestamp_ms: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "timestamp_ms": self.timestamp_ms,
        }


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def consume(
    target: KafkaTarget,
    *,
    topic: str,
    group: str | None,
    from_beginning: bool,
    max_messages: int | None,
    idle_timeout: float,
) -> Iterator[ConsumedRecord]:
    """Yield records until `max_messages` or `idle_timeout` seconds without a new record.

    Without a group the consumer assigns every partition itself (no group ACL needed, nothing
    committed), which is what a read-only look at a topic wants; with `--group` it joins that
    group (short name, prefixed on the wire) and commits what it printed.
    """
    wire_topic = target.prefix + topic
    config: dict[str, Any] = {
        **target.config(),
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.partition.eof": False,
    }
    if group:
        config.update({"group.id": target.prefix + group, "enable.auto.commit": True})
    else:
        config.update({"group.id": target.prefix + "skiff-cli", "enable.auto.commit": False})
    consumer = Consumer(config)
    try:
        if group:
            consumer.subscribe([wire_topic], on_assign=_on_assign(from_beginning))
        else:
            metadata = consumer.list_topics(wire_topic, timeout=idle_timeout)
            described = metadata.topics.get(wire_topic)
            if described is None or described.error is not None:
                error = described.error if described is not None else None
                if error is not None and error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise _fail(error, "reading the topic's partitions")
                raise CliError(f"Topic '{topic}' does not exist in this cluster.", exit_code=3)
            start = -2 if from_beginning else -1  # OFFSET_BEGINNING / OFFSET_END
            consumer.assign(
                [TopicPartition(wire_topic, p, start) for p in sorted(described.partitions)]
            )
        seen = 0
        deadline = time.monotonic() + idle_timeout
        while max_messages is None or seen < max_messages:
            message = consumer.poll(0.5)
            if message is None:
                if time.monotonic() > deadline:
                    return
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise _fail(error, "consuming")
            seen += 1
            deadline = time.monotonic() + idle_timeout
            timestamp_type, timestamp = message.timestamp()
            yield ConsumedRecord(
                partition=message.partition() or 0,
                offset=message.offset() or 0,
                key=_text(message.key()),
                value=_text(message.value()),
                timestamp_ms=timestamp if timestamp_type else None,
            )
    except KafkaException as exc:
        raise _fail(exc.args[0], "consuming") from exc
    finally:
        try:
            consumer.close()
        except (KafkaException, RuntimeError):
            print("warning: the consumer did not close cleanly", file=sys.stderr)


def _on_assign(from_beginning: bool):
    def assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # A group with committed offsets resumes from them; --from-beginning rewinds it.
        if from_beginning:
            for partition in partitions:
                partition.offset = -2
            consumer.assign(partitions)

    return assign
