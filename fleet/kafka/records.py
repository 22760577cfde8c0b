"""The one produce path and the one fetch path that every caller shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from fleet.kafka.connection import (
    KafkaConnection,
    _base_config,
    _cell_wait,
    _Deadline,
    _ErrorTrap,
)
from fleet.kafka.errors import (
    _AUTHORIZATION,
    InvalidKafkaRequest,
    _from_exception,
)
from fleet.kafka.types import (
    ConsumedMessage,
    MessageInput,
    OutgoingRecord,
    ProducedRecord,
    TopicPartitionKey,
)

# The console refuses values over 8 MiB; the client must not refuse them first.
_MAX_RECORD_BYTES = 9 * 1024 * 1024


def _position(msg: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a delivered or fetched message (one without an error)."""
    # librdkafka sets all three on every message that carries no error; the stubs say Optional
    # because error events (e.g. partition EOF) are Messages too.
    return cast(str, msg.topic()), cast(int, msg.partition()), cast(int, msg.offset())


def _as_record(item: MessageInput) -> OutgoingRecord:
    if isinstance(item, OutgoingRecord):
        return item
    if isinstance(item, tuple):
        return OutgoingRecord(key=item[0], value=item[1])
    return OutgoingRecord(value=item)


def produce(
    conn: KafkaConnection,
    topic: str,
    messages: Sequence[MessageInput],
    *,
    acks: str = "all",
    partition: int | None = None,
    timeout: float | None = None,
) -> list[ProducedRecord]:
    """Produce messages and wait for every delivery report; where each one was written.

    The one produce path: the console's "produce a message", the snippets' checks and the tests
    all come through here. ``partition`` pins every message to one partition; by default
    librdkafka's partitioner spreads them (by key hash, or randomly for keyless messages).

    Raises on the first failed delivery (after all reports are in), e.g.
    KafkaAuthorizationFailed when the user may not write to the topic.
    """
    context = f"Producing to topic '{topic}'"
    timeout = conn.timeout if timeout is None else timeout
    deadline = _Deadline(timeout)
    trap = _ErrorTrap(cell=conn.cell_name, timeout=timeout)
    conf = _base_config(conn, trap, "skiff-producer")
    conf.update(
        {
            "acks": acks,
            "linger.ms": 5,
            "enable.idempotence": False,
            "message.max.bytes": _MAX_RECORD_BYTES,
            "message.timeout.ms": max(1000, int(deadline.remaining() * 1000)),
            # auto.create.topics is off on every cell: don't wait 30 s for a topic to appear.
            "topic.metadata.propagation.max.ms": min(10_000, max(1000, int(timeout * 500))),
        }
    )
    producer = Producer(conf)
    records = [_as_record(item) for item in messages]
    reports: dict[int, ProducedRecord] = {}
    failures: list[KafkaError] = []

    def on_delivery(index: int) -> Any:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                failures.append(err)
                return
            _, partition, offset = _position(msg)
            kind, ts = msg.timestamp()
            reports[index] = ProducedRecord(topic, partition, offset, ts if kind else None)

        return report

    try:
        for index, record in enumerate(records):
            kwargs: dict[str, Any] = {
                "key": record.key,
                "value": record.value,
                "on_delivery": on_delivery(index),
            }
            if record.headers:
                kwargs["headers"] = list(record.headers)
            if partition is not None:
                kwargs["partition"] = partition
            while True:
                try:
                    producer.produce(topic, **kwargs)
                    break
                except BufferError:
                    if len(producer) == 0:  # nothing queued, so it is this record's size
                        raise InvalidKafkaRequest(f"{context}: the record is too large.") from None
                    producer.poll(0.05)  # local queue full: let deliveries drain
                    trap.raise_if_fatal(context)
                    if deadline.expired:
                        raise trap.timeout_error(context, timeout) from None
        with _cell_wait():
            while producer.flush(min(0.1, max(0.01, deadline.remaining()))) > 0:
                trap.raise_if_fatal(context)
                if failures and failures[0].name() in _AUTHORIZATION:
                    break
                if deadline.expired:
                    raise trap.timeout_error(context, timeout)
        trap.raise_if_fatal(context)
        if failures:
            raise trap.error(failures[0], context)
        return [reports[index] for index in sorted(reports)]
    except KafkaException as exc:
        raise _from_exception(exc, context, cell=trap.cell, timeout=timeout) from exc
    finally:
        # Drop anything still queued so destroying the handle never blocks.
        producer.purge()
        producer.flush(0)
        del producer


def fetch_messages(
    conn: KafkaConnection,
    ranges: Mapping[TopicPartitionKey, tuple[int, int]],
    *,
    max_messages: int = 100,
    max_bytes: int = 4 * 1024 * 1024,
    timeout: float | None = None,
) -> list[ConsumedMessage]:
    """Read [start, stop) offset ranges of partitions with an assigned consumer (no group).

    Stops per partition at ``stop`` or its end, and overall at ``max_messages`` or once
    ``max_bytes`` of keys and values were read. Nothing is committed anywhere.
    """
    todo = {tp: (start, stop) for tp, (start, stop) in ranges.items() if stop > start}
    if not todo:
        return []
    context = "Reading messages"
    timeout = conn.timeout if timeout is None else timeout
    deadline = _Deadline(timeout)
    trap = _ErrorTrap(cell=conn.cell_name, timeout=timeout)
    conf = _base_config(conn, trap, "skiff-console-browser")
    conf.update(
        {
            "group.id": "skiff-console-browser",  # required by librdkafka; never joined
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": max(1024 * 1024, min(max_bytes, 52_428_800)),
            "fetch.wait.max.ms": 100,
        }
    )
    consumer = Consumer(conf)
    out: list[ConsumedMessage] = []
    read_bytes = 0
    pending = set(todo)
    try:
        consumer.assign([TopicPartition(t, p, start) for (t, p), (start, _) in todo.items()])
        with _cell_wait():  # mostly waiting for the cell: other requests run
            while pending and len(out) < max_messages and read_bytes < max_bytes:
                trap.raise_if_fatal(context)
                if deadline.expired:
                    break
                msg = consumer.poll(min(0.2, max(0.01, deadline.remaining())))
                if msg is None:
                    continue
                key = (msg.topic(), msg.partition())
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(key)
                        continue
                    raise trap.error(err, context)
                if key not in pending:
                    continue
                stop = todo[key][1]
                topic, partition, offset = _position(msg)
                if offset >= stop:
                    pending.discard(key)
                    consumer.pause([TopicPartition(*key)])
                    continue
                if offset >= stop - 1:
                    pending.discard(key)
                    consumer.pause([TopicPartition(*key)])
                read_bytes += len(msg.key() or b"") + len(msg.value() or b"")
                kind, ts = msg.timestamp()
                out.append(
                    ConsumedMessage(
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        key=msg.key(),
                        value=msg.value(),
                        timestamp_ms=ts if kind else None,
                        # A fetched message's headers are a list of (name, bytes | None) pairs; the
                        # stubs' dict form is only what `produce` accepts.
                        headers=tuple(
                            cast("list[tuple[str, bytes | None]] | None", msg.headers()) or ()
                        ),
                    )
                )
        trap.raise_if_fatal(context)
        return out
    except KafkaException as exc:
        raise _from_exception(exc, context, cell=trap.cell, timeout=timeout) from exc
    finally:
        consumer.close()
