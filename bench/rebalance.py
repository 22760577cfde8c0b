"""Time to move partitions onto a new broker, and what the move costs a producer.

    .venv/bin/python bench/rebalance.py [--partitions 60] [--kib-per-partition 512]
        [--throttle-mib 50] [--batch-size 10] [--heap-mb 256] [--window 10]

Starts a 3-node local cell in a temp dir, creates topics with --partitions partitions in total
(RF 3) and fills each with --kib-per-partition KiB, then starts an idempotent acks=all producer
(512-byte messages, as fast as it can) and, after --window seconds of steady traffic, adds a
4th broker and applies an add-brokers plan exactly as the fleet engine does (planner, batches
under the replication throttle, ListPartitionReassignments polled, throttle cleared, preferred
leaders elected). Prints:

- the time to start the broker, and to move the partitions (and replicas, bytes) of the plan;
- the producer's acknowledged messages/s in the --window seconds before the move and during it,
  and their ratio (during / before).

The cell is stopped and deleted at the end. On a shared 2-core host the ratio mostly measures
CPU contention between the producer, the brokers copying and the controller; run it twice.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from confluent_kafka import Producer  # noqa: E402

from fleet.kafka import reassignments as gateway  # noqa: E402
from fleet.kafka.brokers import describe_brokers  # noqa: E402
from fleet.kafka.connection import KafkaConnection, _base_config, _ErrorTrap  # noqa: E402
from fleet.kafka.topics import create_topic  # noqa: E402
from fleet.runtime.launcher import LocalCell  # noqa: E402
from fleet.services.planner import plan_rebalance  # noqa: E402

TOPIC_PARTITIONS = 20  # per topic; --partitions is rounded up to whole topics


def _conf(conn: KafkaConnection, client_id: str) -> dict:
    return _base_config(conn, _ErrorTrap(), client_id)


def prefill(conn: KafkaConnection, topics: list[str], kib: int) -> None:
    producer = Producer({**_conf(conn, "bench-prefill"), "acks": "all", "linger.ms": 50})
    value = b"p" * 1024
    for topic in topics:
        for partition in range(TOPIC_PARTITIONS):
            for _ in range(kib):
                while True:
                    try:
                        producer.produce(topic, value=value, partition=partition)
                        break
                    except BufferError:
                        producer.poll(0.1)
            producer.poll(0)
    left = producer.flush(300)
    if left:
        raise SystemExit(f"prefill: {left} messages undelivered")


class Load:
    """An idempotent acks=all producer, as fast as it goes; ack times for the rates."""

    def __init__(self, conn: KafkaConnection, topic: str) -> None:
        self.topic = topic
        self.acks: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._producer = Producer(
            {
                **_conf(conn, "bench-load"),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
            }
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _done(self, err, _msg) -> None:
        if err is None:
            self.acks.append(time.monotonic())
        else:
            self.errors += 1

    def _run(self) -> None:
        value = b"v" * 512
        while not self._stop.is_set():
            try:
                self._producer.produce(self.topic, value=value, on_delivery=self._done)
            except BufferError:
                self._producer.poll(0.05)
            self._producer.poll(0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(30)
        self._producer.flush(60)

    def rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.acks) / max(end - start, 1e-9)


def move(conn: KafkaConnection, plan, rate: int) -> None:
    """The engine's batch loop (fleet/services/operations.py), without the database."""
    brokers_set: set[int] = set()
    topics_set: set[str] = set()
    try:
        for index in range(len(plan.batches)):
            moves = plan.batch_moves(index)
            copying = [m for m in moves if m.copies_data]
            if copying:
                lists = gateway.throttled_replica_lists(
                    {m.key: (m.from_replicas, m.to_replicas) for m in copying}
                )
                brokers = {b for m in copying for b in (*m.from_replicas, *m.to_replicas)}
                brokers_set |= brokers
                topics_set |= set(lists)
                gateway.set_replication_throttle(
                    conn, rate=rate, broker_ids=brokers, replicas_by_topic=lists
                )
            gateway.alter_reassignments(conn, {m.key: list(m.to_replicas) for m in moves})
            keys = [m.key for m in moves]
            deadline = time.monotonic() + 1800
            while gateway.list_reassignments(conn, keys):
                if time.monotonic() > deadline:
                    raise SystemExit(f"batch {index + 1} did not finish within 1800 s")
                time.sleep(0.5)
    finally:
        gateway.clear_replication_throttle(conn, broker_ids=brokers_set, topics=topics_set)
    gateway.elect_preferred_leaders(conn, [m.key for m in plan.moves])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=60)
    parser.add_argument("--kib-per-partition", type=int, default=512)
    parser.add_argument("--throttle-mib", type=float, default=50.0)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--heap-mb", type=int, default=256)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="skiff-bench-rebalance-"))
    cell = LocalCell(state_dir, name="benchrebal")
    load: Load | None = None
    try:
        started = time.monotonic()
        info = cell.up(nodes=3, heap_mb=args.heap_mb, timeout=300)
        print(f"cell up: {time.monotonic() - started:.1f} s")
        conn = info.admin_connection(timeout=30.0)
        topics = [
            f"bench-{i}"
            for i in range((args.partitions + TOPIC_PARTITIONS - 1) // TOPIC_PARTITIONS)
        ]
        for topic in topics:
            create_topic(conn, topic, partitions=TOPIC_PARTITIONS, replication_factor=3)
        create_topic(conn, "bench-load", partitions=6, replication_factor=3)
        started = time.monotonic()
        prefill(conn, topics, args.kib_per_partition)
        total_mib = len(topics) * TOPIC_PARTITIONS * args.kib_per_partition / 1024
        print(f"prefill: {total_mib:.0f} MiB in {time.monotonic() - started:.1f} s")

        load = Load(conn, "bench-load")
        load.start()
        time.sleep(args.window)  # steady traffic before the move: the baseline window

        started = time.monotonic()
        new = cell.add_broker(heap_mb=args.heap_mb)
        new_id = max(n.node_id for n in new.nodes)
        while not any(b.node_id == new_id and not b.fenced for b in describe_brokers(conn)):
            time.sleep(0.5)
        broker_s = time.monotonic() - started
        brokers = {n.node_id: "" for n in new.nodes}
        plan = plan_rebalance(
            assignment=gateway.partition_assignments(conn),
            brokers=brokers,
            mode="add-brokers",
            target_broker_ids=[new_id],
            partition_bytes=gateway.partition_sizes(conn),
            batch_size=args.batch_size,
        )
        summary = plan.summary()
        move_start = time.monotonic()
        move(conn, plan, int(args.throttle_mib * 1024 * 1024))
        move_end = time.monotonic()
        load.stop()

        moved_s = move_end - move_start
        before = load.rate(started - args.window, started)  # just before the broker starts
        during = load.rate(move_start, move_end)
        print(f"broker {new_id} started and unfenced: {broker_s:.1f} s")
        print(
            f"moved {summary['partitions_moved']} partitions ({summary['replica_moves']} "
            f"replicas, {summary['bytes_to_copy'] / 1024 / 1024:.1f} MiB, "
            f"{summary['leader_reorders']} leader reorders) in {summary['batches']} batches "
            f"of {args.batch_size} under {args.throttle_mib:g} MiB/s: {moved_s:.1f} s "
            f"({summary['partitions_moved'] / max(moved_s, 1e-9):.2f} partitions/s)"
        )
        print(
            f"producer before the move: {before:.0f} msg/s; during: {during:.0f} msg/s; "
            f"ratio {during / max(before, 1e-9):.2f}; errors {load.errors}"
        )
        print(f"throttles left: {gateway.throttles_present(conn)}")
        return 0
    finally:
        if load is not None:
            load.stop()
        cell.down()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
