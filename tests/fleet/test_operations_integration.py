"""Fleet operations on a real cell (issue 14, acceptance 1 and 2, cancel and resume).

One dedicated 3-node cell for the module; the tests run in order on it:
1. add a 4th broker and an add-brokers rebalance while an idempotent acks=all producer and a
   consumer run: replicas within ±1 of the mean, every acknowledged message consumed once and
   in order per partition, no throttle left;
2. a remove-brokers operation cancelled while a batch copies: the batch goes back, the throttle
   is cleared;
3. a rebalance whose worker "died" mid-batch (RUNNING, old heartbeat, throttle and
   reassignments in place) is resumed by the periodic task and finishes;
4. remove the 4th broker: its replicas leave, it stops and is unregistered, and no partition is
   under-replicated after the move.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from django.utils import timezone

from fleet.kafka import reassignments as gateway
from fleet.kafka.brokers import describe_brokers
from fleet.kafka.connection import KafkaConnection, _base_config, _ErrorTrap
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import cell_connection
from fleet.kafka.topics import create_topic, list_topics
from fleet.models import Broker, FleetOperation
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, LocalCell
from fleet.services import operations
from fleet.services.cells import cell_record_local
from fleet.services.planner import RebalancePlan

START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))
HEAP_MB = int(os.environ.get("SKIFF_TEST_KAFKA_HEAP_MB", "256"))
TOPICS = ("ops-a", "ops-b", "ops-c")  # prefilled, 15 partitions each
TRAFFIC_TOPIC = "ops-traffic"  # 15 partitions, the producer's sequence numbers
PARTITIONS = 15
NEW_BROKER = 4

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def ops_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCell]:
    local = LocalCell(tmp_path_factory.mktemp("ops-cell"), name="ops")
    atexit.register(local.down)
    try:
        local.up(nodes=3, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        local.down()
        pytest.fail(f"the operations test cell could not start: {exc}", pytrace=False)
    try:
        conn = _conn(local)
        for topic in (*TOPICS, TRAFFIC_TOPIC):
            create_topic(conn, topic, partitions=PARTITIONS, replication_factor=3)
        _prefill(conn, TOPICS, per_partition=40, size=1024)
        yield local
    finally:
        local.down()
        atexit.unregister(local.down)


def _conn(local: LocalCell) -> KafkaConnection:
    info = local.status()
    assert info is not None
    return info.admin_connection(timeout=20.0)


@pytest.fixture
def cell(ops_cell: LocalCell, settings):
    settings.SKIFF_BROKER_HEAP_MB = HEAP_MB
    settings.SKIFF_REBALANCE_POLL_SECONDS = 0.2
    info = ops_cell.status()
    assert info is not None
    return cell_record_local(info)


def _client_conf(conn: KafkaConnection, client_id: str) -> dict:
    return _base_config(conn, _ErrorTrap(), client_id)


def _prefill(conn: KafkaConnection, topics, *, per_partition: int, size: int) -> None:
    producer = Producer({**_client_conf(conn, "ops-prefill"), "acks": "all", "linger.ms": 20})
    value = b"x" * size
    for topic in topics:
        for partition in range(PARTITIONS):
            for _ in range(per_partition):
                producer.produce(topic, value=value, partition=partition)
            producer.poll(0)
    assert producer.flush(60) == 0, "prefill not delivered within 60 s"


def wait_for(condition, timeout: float, message: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{message} (waited {timeout:g} s)"
        time.sleep(interval)


class Traffic:
    """An idempotent acks=all producer of sequence numbers and a live consumer of them."""

    def __init__(self, conn: KafkaConnection, topic: str, rate_per_s: float = 300.0) -> None:
        self.conn, self.topic, self.rate = conn, topic, rate_per_s
        self.acked: dict[int, int] = {}  # sequence number -> partition
        self.failed: list[str] = []
        self.consumed: dict[int, list[int]] = {}  # partition -> values in consumed order
        self.sent = 0
        self._stop_producing = threading.Event()
        self._stop_consuming = threading.Event()
        self._lock = threading.Lock()
        self.producer = Producer(
            {
                **_client_conf(conn, "ops-traffic"),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": 180_000,
            }
        )
        self.threads = [
            threading.Thread(target=self._produce, daemon=True),
            threading.Thread(target=self._consume, daemon=True),
        ]
        self.consumer_ready = threading.Event()

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        seq = int(msg.value() or b"-1")
        with self._lock:
            if err is not None:
                self.failed.append(f"{seq}: {err.name()}")
            else:
                self.acked[seq] = msg.partition()

    def _produce(self) -> None:
        started = time.monotonic()
        while not self._stop_producing.is_set():
            ahead = self.sent / self.rate - (time.monotonic() - started)
            if ahead > 0:
                self.producer.poll(min(ahead, 0.05))
                continue
            try:
                self.producer.produce(
                    self.topic, value=str(self.sent).encode(), on_delivery=self._delivered
                )
                self.sent += 1
            except BufferError:
                self.producer.poll(0.05)
            self.producer.poll(0)

    def _consume(self) -> None:
        consumer = Consumer(
            {
                **_client_conf(self.conn, "ops-traffic-consumer"),
                "group.id": f"ops-{self.topic}",
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.assign([TopicPartition(self.topic, p, 0) for p in range(PARTITIONS)])
            self.consumer_ready.set()
            while not self._stop_consuming.is_set():
                msg = consumer.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                self.consumed.setdefault(msg.partition(), []).append(int(msg.value()))
        finally:
            consumer.close()

    def start(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop_producing.set()
        self.threads[0].join(30)
        assert self.producer.flush(120) == 0, "messages still undelivered after 120 s"
        total = len(self.acked)
        wait_for(
            lambda: sum(len(v) for v in self.consumed.values()) >= total,
            90,
            f"the consumer did not read all {total} acknowledged messages",
        )
        self._stop_consuming.set()
        self.threads[1].join(30)

    def check(self) -> None:
        """Every acknowledged message consumed exactly once, in per-partition order."""
        assert not self.failed, f"{len(self.failed)} deliveries failed: {self.failed[:3]}"
        values = [v for vs in self.consumed.values() for v in vs]
        twice = [v for v, n in Counter(values).items() if n > 1]
        assert not twice, f"consumed twice: {twice[:5]}"
        missing = sorted(set(self.acked) - set(values))
        assert not missing, f"{len(missing)} acknowledged messages never consumed: {missing[:5]}"
        for partition, vs in self.consumed.items():
            assert vs == sorted(vs), f"partition {partition} consumed out of order"
            wrong = [v for v in vs if self.acked.get(v, partition) != partition]
            assert not wrong, f"partition {partition} holds messages acked elsewhere: {wrong[:5]}"


def replica_counts(conn: KafkaConnection, brokers) -> Counter:
    counts = Counter(dict.fromkeys(brokers, 0))
    for reps in gateway.partition_assignments(conn).values():
        counts.update(b for b in reps if b in counts)
    return counts


def no_throttle(conn: KafkaConnection) -> bool:
    return gateway.throttles_present(conn) == {"brokers": {}, "topics": {}}


def test_add_broker_with_traffic_flowing(cell, settings):
    settings.SKIFF_REBALANCE_BATCH_SIZE = 20
    conn = cell_connection(cell)
    traffic = Traffic(conn, TRAFFIC_TOPIC).start()
    assert traffic.consumer_ready.wait(30), "the consumer did not start"
    wait_for(lambda: len(traffic.acked) >= 300, 60, "the producer got no acknowledgements")
    before = len(traffic.acked)

    op = operations.start_operation(
        cell=cell,
        kind=FleetOperation.Kind.ADD_BROKER,
        requested_by="ops-test@example.com",
        throttle_bytes_per_second=2 * 1024 * 1024,
        run=False,
    )
    started = time.monotonic()
    op = operations.run_operation(operation_id=op.pk)
    took = time.monotonic() - started
    assert op.state == FleetOperation.State.SUCCEEDED, op.error
    assert op.broker_ids == [NEW_BROKER]
    assert len(traffic.acked) > before, "no message acknowledged during the move"
    traffic.stop()
    traffic.check()

    counts = replica_counts(conn, [1, 2, 3, NEW_BROKER])
    mean = sum(counts.values()) / 4
    assert all(abs(c - mean) <= 1 for c in counts.values()), (counts, mean)
    assert sum(counts.values()) >= 4 * PARTITIONS * 3  # every topic, internal ones included
    assert no_throttle(conn), gateway.throttles_present(conn)
    assert gateway.list_reassignments(conn) == {}
    plan = RebalancePlan.from_dict(op.plan)
    assert plan.moves and all(NEW_BROKER not in m.from_replicas for m in plan.moves)
    assert op.progress["batches_done"] == len(plan.batches)
    # Audited: start and finish.
    from console.models import AuditEvent

    actions = set(
        AuditEvent.objects.filter(target_id=str(op.pk), target_type="fleetoperation").values_list(
            "action", flat=True
        )
    )
    assert {"fleet.operation.start", "fleet.operation.finish"} <= actions
    print(f"add-brokers: {len(plan.moves)} moves in {took:.1f} s, {counts}, {op.progress}")


def test_a_cancelled_move_goes_back_and_clears_the_throttle(cell, settings):
    settings.SKIFF_REBALANCE_BATCH_SIZE = 4
    conn = cell_connection(cell)
    before = gateway.partition_assignments(conn)
    # 1 KB/s: a prefilled partition (~40 KB) takes most of a minute to copy.
    op = operations.start_operation(
        cell=cell,
        kind=FleetOperation.Kind.REMOVE_BROKER,
        broker_ids=[NEW_BROKER],
        requested_by="ops-test@example.com",
        throttle_bytes_per_second=1024,
    )
    plan = RebalancePlan.from_dict(op.plan)
    slow = {
        i for i in range(len(plan.batches)) if any(m.topic in TOPICS for m in plan.batch_moves(i))
    }

    def copying():
        op.refresh_from_db()
        return (
            op.progress.get("batch_in_flight") in slow
            and op.progress.get("in_flight")
            and not no_throttle(conn)
        )

    wait_for(copying, 90, f"no batch was seen copying under a throttle: {op.progress}")
    operations.cancel_operation(operation=op)
    wait_for(
        lambda: FleetOperation.objects.get(pk=op.pk).state == FleetOperation.State.CANCELLED,
        60,
        "the operation did not end cancelled",
    )
    op.refresh_from_db()
    assert op.progress.get("cancelled_reassignments", 0) >= 1, op.progress
    assert gateway.list_reassignments(conn) == {}
    assert no_throttle(conn), gateway.throttles_present(conn)
    # The partitions still copying went back; those that had finished keep their new place.
    targets = {m.key: m.to_replicas for m in plan.moves}
    cancelled = set(op.progress["cancelled_partitions"])
    after = gateway.partition_assignments(conn)
    for key, reps in after.items():
        if key not in before:
            continue
        if f"{key[0]}-{key[1]}" in cancelled:
            assert sorted(reps) == sorted(before[key]), (key, before[key], reps)
        else:
            assert reps in (before[key], list(targets.get(key, before[key]))), (key, reps)
    assert Broker.objects.get(cell=cell, node_id=NEW_BROKER).state != Broker.State.UNREGISTERED


def test_a_stale_operation_is_resumed_and_finishes(cell, settings):
    """The worker 'died' in its first batch: reassignments and throttle in place, RUNNING with
    an old heartbeat. The periodic task resumes it; it finishes and clears the throttle."""
    settings.SKIFF_REBALANCE_BATCH_SIZE = 6
    conn = cell_connection(cell)
    op = operations.start_operation(
        cell=cell,
        kind=FleetOperation.Kind.REBALANCE,
        mode=FleetOperation.Mode.FULL,
        requested_by="ops-test@example.com",
        throttle_bytes_per_second=1024 * 1024,
        run=False,
    )
    plan = RebalancePlan.from_dict(op.plan)
    assert plan.batches, "the cancelled remove left nothing to rebalance"
    # What the dead worker had done of batch 1.
    moves = plan.batch_moves(0)
    copying = [m for m in moves if m.copies_data]
    lists = gateway.throttled_replica_lists(
        {m.key: (m.from_replicas, m.to_replicas) for m in copying}
    )
    brokers = sorted({b for m in copying for b in (*m.from_replicas, *m.to_replicas)})
    if copying:
        gateway.set_replication_throttle(
            conn, rate=1024 * 1024, broker_ids=brokers, replicas_by_topic=lists
        )
    gateway.alter_reassignments(conn, {m.key: list(m.to_replicas) for m in moves})
    old = timezone.now() - dt.timedelta(hours=1)
    FleetOperation.objects.filter(pk=op.pk).update(
        state=FleetOperation.State.RUNNING,
        started_at=old,
        heartbeat_at=old,
        progress={
            "step": "batch 1: moving",
            "batches_done": 0,
            "batches_total": len(plan.batches),
            "batch_in_flight": 0,
            "throttled_brokers": brokers,
            "throttled_topics": sorted(lists),
        },
    )
    assert operations.resume_stale_operations() == 1
    wait_for(
        lambda: not FleetOperation.objects.get(pk=op.pk).is_active,
        120,
        "the resumed operation did not finish",
    )
    op.refresh_from_db()
    assert op.state == FleetOperation.State.SUCCEEDED, op.error
    assert op.progress["resumed"] is True and op.progress["batches_done"] == len(plan.batches)
    assert no_throttle(conn), gateway.throttles_present(conn)
    counts = replica_counts(conn, [1, 2, 3, NEW_BROKER])
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    # A second resume finds nothing to do.
    assert operations.resume_stale_operations() == 0


def test_remove_broker_moves_its_replicas_then_stops_and_unregisters_it(cell, ops_cell):
    conn = cell_connection(cell)
    under_replicated: dict[tuple[str, int], list[float]] = {}
    polled_at: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                topics = list_topics(conn, include_internal=True)
            except KafkaGatewayError:  # a metadata read during the broker's shutdown
                stop.wait(0.3)
                continue
            now = time.monotonic()
            polled_at.append(now)
            for name, topic in topics.items():
                for p in topic.partitions:
                    if set(p.isr) != set(p.replicas):
                        under_replicated.setdefault((name, p.id), []).append(now)
            stop.wait(0.3)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    op = operations.start_operation(
        cell=cell,
        kind=FleetOperation.Kind.REMOVE_BROKER,
        broker_ids=[NEW_BROKER],
        requested_by="ops-test@example.com",
        throttle_bytes_per_second=4 * 1024 * 1024,
        run=False,
    )
    op = operations.run_operation(operation_id=op.pk)
    moved_at = time.monotonic()
    assert op.state == FleetOperation.State.SUCCEEDED, op.error
    # Its replicas left before it stopped (the retire step refuses a broker that holds any).
    assert op.progress["retired_broker_id"] == NEW_BROKER
    assert all(NEW_BROKER not in reps for reps in gateway.partition_assignments(conn).values())
    wait_for(
        lambda: NEW_BROKER not in {b.node_id for b in describe_brokers(conn)},
        30,
        f"broker {NEW_BROKER} is still registered",
    )
    assert Broker.objects.get(cell=cell, node_id=NEW_BROKER).state == Broker.State.UNREGISTERED
    status = ops_cell.status()
    assert status is not None and NEW_BROKER not in {n.node_id for n in status.nodes}
    assert no_throttle(conn), gateway.throttles_present(conn)
    # Watch a few more metadata reads: nothing is left under-replicated after the move.
    wait_for(lambda: sum(t > moved_at for t in polled_at) >= 3, 30, "the watcher stopped reading")
    stop.set()
    watcher.join(10)
    late = {key: max(times) for key, times in under_replicated.items() if max(times) > moved_at}
    assert not late, f"under-replicated after the move: {sorted(late)[:5]}"
    counts = replica_counts(conn, [1, 2, 3])
    assert len(set(counts.values())) == 1, counts  # RF 3 on 3 brokers: all of them everywhere
