"""Traffic for the fleet's survival tests (issue 14): an idempotent acks=all producer of sequence
numbers and a consumer, both running in threads while a test restarts, kills or moves brokers;
then a full read of the topic that checks nothing acknowledged was lost, nothing was written
twice, and each partition holds its sequence numbers in order."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from fleet.kafka.connection import KafkaConnection, _base_config, _ErrorTrap


def _conf(conn: KafkaConnection, client_id: str) -> dict:
    return _base_config(conn, _ErrorTrap(), client_id)


@dataclass
class TrafficReport:
    acked: dict[int, int]  # sequence number -> partition
    failed: list[str]
    consumed_live: int
    log: dict[int, list[int]] = field(default_factory=dict)  # partition -> values in offset order

    def check(self, *, allow_failed: bool = False) -> None:
        """Assert: every ack in the log, nothing twice, in order; and no failed delivery
        unless ``allow_failed`` (a message that timed out may or may not be in the log)."""
        if not allow_failed:
            assert not self.failed, f"{len(self.failed)} deliveries failed, e.g. {self.failed[:3]}"
        values = [v for vs in self.log.values() for v in vs]
        twice = [v for v, n in Counter(values).items() if n > 1]
        assert not twice, f"{len(twice)} sequence numbers written twice, e.g. {twice[:5]}"
        missing = sorted(set(self.acked) - set(values))
        assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
        for partition, vs in self.log.items():
            assert vs == sorted(vs), f"partition {partition} is out of order"
            wrong = [v for v in vs if v in self.acked and self.acked[v] != partition]
            assert not wrong, f"messages in partition {partition} acked for another: {wrong[:5]}"


class Traffic:
    """Produce sequence numbers (value = str(n)) until stopped or ``total`` is reached."""

    def __init__(
        self,
        conn: KafkaConnection,
        topic: str,
        *,
        total: int | None = None,
        rate_per_s: float | None = None,
        message_timeout_s: float = 180.0,
    ) -> None:
        self.conn, self.topic, self.total, self.rate = conn, topic, total, rate_per_s
        self.acked: dict[int, int] = {}
        self.failed: list[str] = []
        self.sent = 0
        self.consumed_live = 0
        self._stop = threading.Event()
        self._consumer_stop = threading.Event()
        self._lock = threading.Lock()
        conf = _conf(conn, "skiff-test-traffic")
        conf.update(
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": int(message_timeout_s * 1000),
            }
        )
        self._producer = Producer(conf)
        self._threads = [
            threading.Thread(target=self._produce, name="traffic-producer", daemon=True),
            threading.Thread(target=self._consume, name="traffic-consumer", daemon=True),
        ]

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        seq = int(msg.value() or b"-1")
        with self._lock:
            if err is not None:
                self.failed.append(f"{seq}: {err.name()}")
            else:
                self.acked[seq] = msg.partition()

    def _produce(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set() and (self.total is None or self.sent < self.total):
            if self.rate is not None:
                ahead = self.sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self._producer.poll(min(ahead, 0.1))
                    continue
            try:
                self._producer.produce(
                    self.topic, value=str(self.sent).encode(), on_delivery=self._on_delivery
                )
                self.sent += 1
            except BufferError:
                self._producer.poll(0.05)
            self._producer.poll(0)

    def _consume(self) -> None:
        conf = _conf(self.conn, "skiff-test-traffic-consumer")
        conf.update({"group.id": f"traffic-{self.topic}", "enable.auto.commit": False})
        consumer = Consumer(conf)
        try:
            metadata = consumer.list_topics(self.topic, timeout=30)
            partitions = sorted(metadata.topics[self.topic].partitions)
            consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions])
            while not self._consumer_stop.is_set():
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None:
                    self.consumed_live += 1
        finally:
            consumer.close()

    def start(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def wait_produced(self, count: int, timeout: float) -> None:
        """Until ``count`` messages were handed to the producer (acknowledged or not)."""
        deadline = time.monotonic() + timeout
        while self.sent < count:
            assert time.monotonic() < deadline, f"only {self.sent} of {count} produced"
            time.sleep(0.1)

    def wait_sent(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        report_at = time.monotonic() + 30
        while len(self.acked) < count:
            assert time.monotonic() < deadline, (
                f"only {len(self.acked)} of {count} messages acknowledged within {timeout:g} s "
                f"({self.sent} sent, {len(self.failed)} failed)"
            )
            if time.monotonic() >= report_at:  # shown with -s: where a slow run spends its time
                print(f"traffic: {len(self.acked)} acked of {self.sent} sent")
                report_at += 30
            time.sleep(0.1)

    def stop(self, *, flush_timeout: float = 180.0) -> TrafficReport:
        """Stop producing, wait for every outstanding delivery, read the whole topic back."""
        self._stop.set()
        self._threads[0].join(timeout=30)
        remaining = self._producer.flush(flush_timeout)
        assert remaining == 0, f"{remaining} messages still undelivered after {flush_timeout} s"
        self._consumer_stop.set()
        self._threads[1].join(timeout=30)
        report = TrafficReport(
            acked=dict(self.acked), failed=list(self.failed), consumed_live=self.consumed_live
        )
        report.log = read_all(self.conn, self.topic)
        return report


def read_all(conn: KafkaConnection, topic: str, timeout: float = 120.0) -> dict[int, list[int]]:
    """Every value of every partition, from offset 0 to the high watermark, in offset order."""
    conf = _conf(conn, "skiff-test-traffic-reader")
    conf.update({"group.id": f"reader-{topic}", "enable.auto.commit": False})
    consumer = Consumer(conf)
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
        out: dict[int, list[int]] = {p: [] for p in partitions}
        pending = {p for p in partitions if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, f"reading {topic} back: {pending} not at the end"
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            out[msg.partition()].append(int(msg.value() or b"-1"))
            if msg.offset() + 1 >= ends[msg.partition()]:
                pending.discard(msg.partition())
        return out
    finally:
        consumer.close()
