"""Benchmark: what Skiff's security costs on the data path (produce and consume throughput).

    .venv/bin/python bench/data_path.py [--messages 100000] [--size 1024] [--rounds 5]
                                        [--nodes 3] [--partitions 6] [--fast-start]

Starts a throwaway local cell (default 3 nodes, full JIT) and an embedded console (SQLite,
in-process tasks) in a temp dir. The cell gets one extra listener on every node, PLAINTEXT
(no TLS, no SASL; its ANONYMOUS principal is a super user, like the admin), which only this
bench adds. A team, a serverless cluster (its key: SCRAM-SHA-512 credential, the
produce-and-consume policy's prefixed ACLs, the service's client quotas) and one topic are made
through Skiff's own services. Then, in the same run, three clients move the same data through
the same topic:

* tenant    — the cluster's key on the CLIENT listener (SASL_SSL + SCRAM + ACLs + quota);
* admin     — the platform's super user on the same listener (SASL_SSL + SCRAM, no ACL check,
              no quota): the baseline, so tenant/admin is the cost of ACLs and the quota;
* plaintext — the PLAINTEXT listener: admin/plaintext is the cost of TLS + SASL.

Each round runs the three in a rotated order: produce `--messages` records of `--size`
incompressible bytes (acks=all, idempotent, linger 5 ms), then read them back from the offsets
the round started at. Throughput is MB/s (10^6 bytes of values) per run. Ratios are taken within
each round (the runs are next to each other in time, so a busy host weighs on both sides alike)
and their median over the rounds is reported, beside the ratio of the median rates. Goal:
tenant/admin >= 0.9 both ways. Each run also prints the throttle time the brokers gave the
client (librdkafka statistics): non-zero for the tenant means its quota held it back.

The tenant's byte-rate quota is split across brokers (fleet/limits.py: 200 MB/s in and 400 MB/s
out per cluster); the bench prints it, and whether the admin's rate came near it, since a quota
below the measured rate would cap the tenant by design, not by overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import free_port  # noqa: E402

MB = 1_000_000


def bench_cell_class():
    """LocalCell with a PLAINTEXT listener on every node (bench only; never in the product)."""
    from fleet.runtime.launcher import LocalCell

    class PlaintextBenchCell(LocalCell):
        plain_ports: dict[int, int] = {}

        def _write_properties(self, state, node, *args, **kwargs) -> None:
            super()._write_properties(state, node, *args, **kwargs)
            port = self.plain_ports.setdefault(node.node_id, free_port())
            path = self._properties_path(node.node_id)
            lines = []
            for line in path.read_text().splitlines():
                key = line.partition("=")[0]
                if key in ("listeners", "advertised.listeners"):
                    line = f"{line},BENCH://127.0.0.1:{port}"
                elif key == "listener.security.protocol.map":
                    line = f"{line},BENCH:PLAINTEXT"
                elif key == "super.users":
                    line = f"{line};User:ANONYMOUS"
                lines.append(line)
            path.write_text("\n".join(lines) + "\n")

    return PlaintextBenchCell


def client_configs(info, tenant_user: str, tenant_secret: str, ports: dict[int, int]) -> dict:
    secured = {
        "bootstrap.servers": info.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "ssl.ca.location": str(info.ca_path),
        "ssl.endpoint.identification.algorithm": "https",
    }
    return {
        "tenant": {**secured, "sasl.username": tenant_user, "sasl.password": tenant_secret},
        "admin": {
            **secured,
            "sasl.username": info.admin_username,
            "sasl.password": info.admin_password,
        },
        "plaintext": {
            "bootstrap.servers": ",".join(f"127.0.0.1:{p}" for p in ports.values()),
            "security.protocol": "PLAINTEXT",
        },
    }


class ThrottleMeter:
    """librdkafka's statistics callback: milliseconds the brokers throttled this client.

    A client over a quota (byte rate or request time) gets a throttle time in its responses;
    librdkafka reports it per broker in a rolling window reset every statistics interval.
    """

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self, text: str) -> None:
        for broker in json.loads(text).get("brokers", {}).values():
            self.ms += int(broker.get("throttle", {}).get("sum", 0))


def produce(conf: dict, topic: str, values: list[bytes], count: int) -> tuple[float, ThrottleMeter]:
    """Seconds to produce `count` records (cycling through `values`) and have them all acked.

    One more record is produced first, before the clock starts (see below).
    """
    from confluent_kafka import KafkaException, Producer

    errors: list[str] = []
    throttle = ThrottleMeter()

    def on_delivery(err, _msg) -> None:
        if err is not None:
            errors.append(str(err))

    producer = Producer(
        {
            **conf,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "batch.size": 1_000_000,
            "compression.type": "none",
            "queue.buffering.max.kbytes": 262_144,
            "statistics.interval.ms": 500,
            "stats_cb": throttle,
        }
    )
    # Connect, authenticate and get the idempotent producer id before the clock starts: one
    # record (the caller reads it back with the others).
    producer.produce(topic, values[0], on_delivery=on_delivery)
    if producer.flush(60) or errors:
        raise KafkaException(f"the first record was not delivered: {errors[:3]}")
    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(topic, values[i % len(values)], on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    if remaining or errors:
        raise KafkaException(f"{remaining} undelivered, errors: {errors[:3]}")
    return elapsed, throttle


def consume(
    conf: dict, topic: str, group: str, starts: dict[int, int], count: int
) -> tuple[float, ThrottleMeter]:
    """Seconds to read `count` records from `starts` (partition → offset)."""
    from confluent_kafka import Consumer, TopicPartition

    throttle = ThrottleMeter()
    consumer = Consumer(
        {
            **conf,
            "statistics.interval.ms": 500,
            "stats_cb": throttle,
            "group.id": group,
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 10_485_760,
        }
    )
    consumer.list_topics(topic, timeout=30)
    consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    got = 0
    started = time.perf_counter()
    deadline = started + 300
    try:
        while got < count:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"read {got} of {count} records in 300 s")
            for message in consumer.consume(num_messages=10_000, timeout=1.0):
                if message.error() is None:
                    got += 1
        return time.perf_counter() - started, throttle
    finally:
        consumer.close()


def end_offsets(conf: dict, topic: str, partitions: int) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": "offsets-probe", "enable.auto.commit": False})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--heap-mb", type=int, default=512)
    parser.add_argument(
        "--port-base", type=int, default=None, help="the cell's ports (default: a free block)"
    )
    parser.add_argument(
        "--fast-start", action="store_true", help="C1-only JIT, as `make run` starts local cells"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-dp-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SKIFF_HOME": str(work / "home"),
            "SQLITE_PATH": str(work / "bench.sqlite3"),
            "SKIFF_TASKS_INLINE": "1",
            "SKIFF_AUTOSCALE_ENABLED": "false",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command

    from clusters.services.clusters import ClusterSpec, cluster_create
    from clusters.services.topics import topic_create
    from console.services.teams import team_create, user_create
    from fleet.limits import access_key_quotas
    from fleet.services.cells import cell_record_local, local_cell_dir

    call_command("migrate", verbosity=0)
    cell_class = bench_cell_class()
    cell = cell_class(local_cell_dir("bench-dp"), name="bench-dp")
    started = time.perf_counter()
    info = cell.up(
        nodes=args.nodes,
        port_base=args.port_base,
        heap_mb=args.heap_mb,
        timeout=300,
        fast_start=args.fast_start,
    )
    print(
        f"cell of {args.nodes} node(s) ready in {time.perf_counter() - started:.1f} s "
        f"({'C1-only' if args.fast_start else 'full'} JIT, heap {args.heap_mb} MB)"
    )
    try:
        cell_record_local(info)
        user = user_create(email="bench@example.com", password="bench-Passw0rd!", validate=False)
        team = team_create(name="Bench", slug="bench", owner=user)
        created = cluster_create(team=team, user=user, spec=ClusterSpec(name="datapath"))
        cluster = created.cluster
        cluster.refresh_from_db()
        if cluster.state != "ACTIVE" or created.secret is None:
            print(f"cluster ended {cluster.state}", file=sys.stderr)
            return 1
        topic = topic_create(cluster=cluster, name="bench", partitions=args.partitions)
        wire = topic.wire_name
        group = f"{cluster.wire_prefix}bench"
        confs = client_configs(info, created.initial_key.username, created.secret, cell.plain_ports)
        quotas = access_key_quotas(len(info.nodes))
        print(
            f"topic {wire}: {args.partitions} partitions, RF {min(3, args.nodes)}; "
            f"{args.messages} x {args.size} B per run, {args.rounds} round(s)"
        )
        print(
            f"tenant quota per broker: produce {quotas['producer_byte_rate'] / MB:.1f} MB/s, "
            f"consume {quotas['consumer_byte_rate'] / MB:.1f} MB/s"
        )

        values = [os.urandom(args.size) for _ in range(64)]
        megabytes = args.messages * args.size / MB
        names = list(confs)
        rates: dict[str, dict[str, list[float]]] = {
            n: {"produce": [], "consume": []} for n in names
        }
        # Warm-up (JIT, page cache, connections), not counted.
        produce(confs["admin"], wire, values, min(args.messages, 20_000))
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                starts = end_offsets(confs["admin"], wire, args.partitions)
                p, p_throttle = produce(confs[name], wire, values, args.messages)
                c, c_throttle = consume(confs[name], wire, group, starts, args.messages + 1)
                rates[name]["produce"].append(megabytes / p)
                rates[name]["consume"].append(megabytes / c)
                print(
                    f"  round {round_no + 1} {name:<9} produce {megabytes / p:7.1f} MB/s "
                    f"(throttled {p_throttle.ms} ms)   consume {megabytes / c:7.1f} MB/s "
                    f"(throttled {c_throttle.ms} ms)"
                )

        median = {n: {d: statistics.median(v) for d, v in r.items()} for n, r in rates.items()}
        print("\nmedian MB/s       produce   consume")
        for name in names:
            print(f"  {name:<13} {median[name]['produce']:9.1f} {median[name]['consume']:9.1f}")
        # Ratios within each round (runs next to each other in time, so a busy host affects
        # both sides alike), then their median over the rounds; and the ratio of the medians.
        print("ratios, median of per-round ratios (ratio of medians)   produce        consume")
        paired: dict[tuple[str, str], dict[str, float]] = {}
        for a, b in (("tenant", "admin"), ("tenant", "plaintext"), ("admin", "plaintext")):
            paired[(a, b)] = {
                d: statistics.median(x / y for x, y in zip(rates[a][d], rates[b][d], strict=True))
                for d in ("produce", "consume")
            }
            cells = "".join(
                f"{paired[(a, b)][d]:9.2f} ({median[a][d] / median[b][d]:.2f})"
                for d in ("produce", "consume")
            )
            print(f"  {a}/{b:<42} {cells}")
        worst = min(paired[("tenant", "admin")].values())
        print(f"goal tenant/admin >= 0.9: {'met' if worst >= 0.9 else 'NOT met'} ({worst:.2f})")
        # The quota is per broker; with leaders spread evenly each broker sees 1/n of the load.
        per_broker_in = median["admin"]["produce"] * MB / len(info.nodes)
        per_broker_out = median["admin"]["consume"] * MB / len(info.nodes)
        near = (
            per_broker_in >= 0.8 * quotas["producer_byte_rate"]
            or per_broker_out >= 0.8 * quotas["consumer_byte_rate"]
        )
        verdict = "NEAR the tenant quota (it may cap)" if near else "well under the tenant quota"
        print(
            f"admin per broker: in {per_broker_in / MB:.1f} MB/s, "
            f"out {per_broker_out / MB:.1f} MB/s: {verdict}"
        )
    finally:
        cell.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
