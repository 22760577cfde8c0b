"""Benchmark: what one cell's costs do as it fills with tenants (issue 20, goal 3).

    .venv/bin/python bench/density.py [--max 1000] [--nodes 3] [--workers 3] [--timed 20]

Starts a throwaway 3-node local cell and the embedded console (`manage.py run_console
--no-fleet`, SQLite, in-process tasks, its own sampler and periodic jobs) in a temp dir, and
fills the cell step by step to 10, 100 and 1,000 serverless clusters (`--max` stops earlier:
`--max 100` is the quick run). Every cluster is made through the API (its key, the default
produce-and-consume policy: ~10 ACLs) and gets 5 topics of one partition (made in one
CreateTopics request by the platform, then imported by the topic sync). Teams hold 10 clusters
each, as tenants would.

At each step:

* create → ACTIVE p95: the step's last `--timed` clusters are created one after the other
  (POST, then GET until ACTIVE), into a cell that already holds the rest of the step;
* produce/consume round trip p95 with a tenant key: `--rt-clusters` clusters spread over the
  whole cell, each with its own key and a connected producer and consumer: produce one record
  (acks=all), wait until the consumer has it;
* the reconciler's full pass (`reconcile_all_access`, the 60 s periodic repair of every key's
  ACLs and quotas): wall time (median of 3) and the number of admin calls it made;
* the sampler's CPU per pass (`Sampler.run_once`: scrape every broker, parse, map to clusters,
  write): process CPU seconds, median of 3 passes after a first one;
* broker heap in use after a full GC (`jcmd GC.run`, then `jstat -gc`), the mean of the nodes;
* the console process's RSS.

Then it prints each figure as the ratio of the last step to the first, with the goals:
create → ACTIVE and the round trip <= 1.5x, the reconciler and the sampler <= 100x (at most
proportional) and, from the call counts, whether the reconciler's admin calls grow with keys.
The load average is printed at every step: on a shared 2-core machine it explains a lot.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import free_port, percentile, rss_mb  # noqa: E402

STEPS = (10, 100, 1000)
TOPICS_PER_CLUSTER = 5
CLUSTERS_PER_TEAM = 10


def heap_used_mb(pid: int) -> float:
    """Live heap of a broker JVM: a full GC, then the used sizes of every generation."""
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=120, check=False)
    out = subprocess.run(
        ["jstat", "-gc", str(pid)], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    header, values = out[0].split(), out[1].split()
    row = dict(zip(header, values, strict=False))
    return sum(float(row.get(k, 0) or 0) for k in ("S0U", "S1U", "EU", "OU")) / 1024


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the console exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


@contextmanager
def counted_superuser_calls():
    """Count every call of the platform's super-user client (each one is one admin request
    or more), by method name, while the block runs. The real calls are made."""
    from fleet.kafka.platform import PlatformSuperuser

    counts: Counter[str] = Counter()
    originals = {}
    for name, value in vars(PlatformSuperuser).items():
        if name.startswith("_") or not callable(value) or isinstance(value, staticmethod):
            continue
        originals[name] = value

        def wrapper(self, *args, __name=name, __real=value, **kwargs):
            counts[__name] += 1
            return __real(self, *args, **kwargs)

        setattr(PlatformSuperuser, name, wrapper)
    try:
        yield counts
    finally:
        for name, value in originals.items():
            setattr(PlatformSuperuser, name, value)


class Console:
    """The HTTP side: one session per team token, against the console subprocess."""

    def __init__(self, port: int) -> None:
        import requests

        self.base = f"http://127.0.0.1:{port}"
        self.local = threading.local()
        self.requests = requests

    def _session(self, token: str):
        sessions = getattr(self.local, "sessions", None)
        if sessions is None:
            sessions = self.local.sessions = {}
        if token not in sessions:
            s = self.requests.Session()
            s.headers["Authorization"] = f"Token {token}"
            sessions[token] = s
        return sessions[token]

    def create_cluster(self, token: str, name: str, timeout: float = 180) -> tuple[dict, float]:
        """POST, then GET until ACTIVE. Returns (the create response, seconds to ACTIVE)."""
        s = self._session(token)
        t0 = time.perf_counter()
        r = s.post(f"{self.base}/api/v1/clusters/", json={"name": name}, timeout=timeout)
        if r.status_code != 201:
            raise RuntimeError(f"create {name}: {r.status_code} {r.text[:300]}")
        body = r.json()
        state = body.get("state")
        deadline = t0 + timeout
        while state != "ACTIVE":
            if state == "FAILED" or time.perf_counter() > deadline:
                raise RuntimeError(f"cluster {name} ended {state}: {body.get('state_reason')}")
            time.sleep(0.05)
            got = s.get(f"{self.base}/api/v1/clusters/{body['id']}/", timeout=timeout).json()
            state = got.get("state")
        return body, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1000, help="the last step (10, 100 or 1000)")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="threads filling the cell")
    parser.add_argument("--timed", type=int, default=20, help="timed creates per step")
    parser.add_argument("--rt-clusters", type=int, default=10)
    parser.add_argument("--rt-rounds", type=int, default=5)
    parser.add_argument("--heap-mb", type=int, default=None)
    args = parser.parse_args()
    steps = [s for s in STEPS if s <= args.max] or [args.max]

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-density-"))
    teams_needed = -(-steps[-1] // CLUSTERS_PER_TEAM)
    env_vars = {
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "SKIFF_HOME": str(work / "home"),
        "SQLITE_PATH": str(work / "bench.sqlite3"),
        "SKIFF_TASKS_INLINE": "1",
        "SKIFF_AUTOSCALE_ENABLED": "false",
        "SKIFF_MAX_CLUSTERS_PER_TEAM": str(CLUSTERS_PER_TEAM),
        # 1,000 clusters x 5 topics x RF 3 on 3 brokers: 5,000 replicas per broker.
        "SKIFF_PARTITIONS_PER_BROKER": str(max(4000, 2 * steps[-1] * TOPICS_PER_CLUSTER)),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    os.environ.update(env_vars)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from confluent_kafka.admin import AdminClient, NewTopic
    from django.core.management import call_command

    from clusters.services.access.reconcile import reconcile_all_access
    from clusters.services.topic_sync import sync_all_topics
    from console.models import User
    from console.services.teams import api_token_create, team_create, user_create
    from fleet.models import Broker
    from fleet.services.cells import fleet_down, fleet_up
    from fleet.services.sampler import Sampler

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    cell = fleet_up(name="density", nodes=args.nodes, heap_mb=args.heap_mb)
    print(f"cell of {args.nodes} node(s) ready in {time.perf_counter() - t0:.1f} s; work {work}")
    creds = json.loads(Path(cell.credentials_path).read_text())
    secured = {
        "bootstrap.servers": cell.bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "ssl.ca.location": str(cell.ca_path),
    }
    admin = AdminClient(
        {
            **secured,
            "sasl.username": creds["admin_username"],
            "sasl.password": creds["admin_password"],
        }
    )

    # One owner of every team (a password hash per user would cost seconds per team here).
    owner = user_create(email="owner@example.com", password="bench-Passw0rd!", validate=False)
    owner = User.objects.get(pk=owner.pk)
    tokens = []
    for t in range(teams_needed):
        team = team_create(name=f"Tenant {t}", slug=f"tenant{t}", owner=owner)
        tokens.append(api_token_create(user=owner, team=team, name="bench")[1])

    port = free_port()
    py = sys.executable
    log = open(work / "console.log", "wb")  # noqa: SIM115 (closed below)
    console_proc = subprocess.Popen(
        [py, "manage.py", "run_console", "--no-fleet", "--addrport", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, **env_vars},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results: list[dict] = []
    clusters: list[dict] = []  # {"name", "id", "prefix", "username", "secret"}
    lock = threading.Lock()
    try:
        wait_port(port, console_proc)
        api = Console(port)

        def make(index: int) -> float:
            token = tokens[index // CLUSTERS_PER_TEAM]
            body, seconds = api.create_cluster(token, f"d{index}")
            prefix = body["prefix"]  # `team.cluster.`
            key = body["initial_key"]
            futures = admin.create_topics(
                [NewTopic(f"{prefix}t{n}", 1, min(3, args.nodes)) for n in range(5)],
                request_timeout=60,
            )
            for f in futures.values():
                f.result(timeout=90)
            with lock:
                clusters.append(
                    {
                        "id": body["id"],
                        "prefix": prefix,
                        "username": key["username"],
                        "secret": key["secret"],
                    }
                )
            return seconds

        made = 0
        for step in steps:
            timed = min(args.timed, step - made)
            fill = step - made - timed
            t_fill = time.perf_counter()
            errors: list[str] = []
            if fill > 0:
                pool = ThreadPoolExecutor(args.workers)
                try:
                    for fut in [pool.submit(make, made + i) for i in range(fill)]:
                        try:
                            fut.result()
                        except Exception as exc:
                            errors.append(str(exc))
                finally:  # Ctrl-C: drop the creates not started yet, then tear down
                    pool.shutdown(wait=True, cancel_futures=True)
                made += fill
            creates = []
            for i in range(timed):
                try:
                    creates.append(make(made + i))
                except Exception as exc:
                    errors.append(str(exc))
            made += timed
            fill_seconds = time.perf_counter() - t_fill
            if errors:
                print(f"  {len(errors)} create(s) failed, first: {errors[0]}", file=sys.stderr)
            sync_all_topics()  # the console's 30 s job, now: every topic is known

            # The round trip, on clusters spread over the whole cell.
            rt = round_trips(clusters, secured, args.rt_clusters, args.rt_rounds)

            # The reconciler's full pass.
            passes, calls = [], Counter()
            for _ in range(3):
                with counted_superuser_calls() as counts:
                    p0 = time.perf_counter()
                    reports = reconcile_all_access()
                    passes.append(time.perf_counter() - p0)
                calls = counts
            keys = sum(r.keys for r in reports.values())

            # The sampler's CPU per pass (a first pass has nothing to compare with).
            sampler = Sampler()
            sampler.run_once()
            cpu = []
            for _ in range(3):
                c0 = time.process_time()
                sampler.run_once()
                cpu.append(time.process_time() - c0)

            pids = [p for p in Broker.objects.filter(cell=cell).values_list("pid", flat=True) if p]
            heap = statistics.mean(heap_used_mb(pid) for pid in pids) if pids else float("nan")
            row = {
                "clusters": made,
                "keys": keys,
                "create_p95": percentile(creates, 0.95) if creates else float("nan"),
                "create_p50": percentile(creates, 0.50) if creates else float("nan"),
                "rt_p95": percentile(rt, 0.95),
                "rt_p50": percentile(rt, 0.50),
                "reconcile_s": statistics.median(passes),
                "reconcile_calls": sum(calls.values()),
                "reconcile_calls_by": dict(calls),
                "sampler_cpu_s": statistics.median(cpu),
                "heap_mb": heap,
                "console_rss_mb": rss_mb(console_proc.pid),
                "load": os.getloadavg(),
                "fill_s": fill_seconds,
                "errors": len(errors),
            }
            results.append(row)
            print_row(row)
            (work / "density.json").write_text(json.dumps(results, indent=1))
        print_summary(results)
    finally:
        console_proc.terminate()
        try:
            console_proc.wait(30)
        except subprocess.TimeoutExpired:
            console_proc.kill()
        log.close()
        fleet_down(name="density")
    return 0


def round_trips(clusters: list[dict], secured: dict, count: int, rounds: int) -> list[float]:
    """Seconds from produce (acks=all) to the consumer having the record, with tenant keys."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    rng = random.Random(len(clusters))
    chosen = rng.sample(clusters, min(count, len(clusters)))
    out = []
    for c in chosen:
        conf = {**secured, "sasl.username": c["username"], "sasl.password": c["secret"]}
        topic = f"{c['prefix']}t0"
        producer = Producer({**conf, "acks": "all", "linger.ms": 0})
        consumer = Consumer(
            {
                **conf,
                "group.id": f"{c['prefix']}rt",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        try:
            # From the current end, resolved now (OFFSET_END would resolve at the first fetch,
            # which may come after the first record).
            high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)[1]
            consumer.assign([TopicPartition(topic, 0, high)])
            for n in range(rounds + 1):  # the first one is a warm-up (connections, metadata)
                value = uuid.uuid4().bytes
                t0 = time.perf_counter()
                producer.produce(topic, value)
                if producer.flush(30):
                    raise RuntimeError(f"{topic}: not delivered in 30 s")
                deadline = time.perf_counter() + 60
                while True:
                    message = consumer.poll(0.5)
                    if message is not None and not message.error() and message.value() == value:
                        break
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"{topic}: not consumed in 60 s")
                if n:
                    out.append(time.perf_counter() - t0)
        finally:
            consumer.close()
    return out


def print_row(row: dict) -> None:
    load = ", ".join(f"{x:.1f}" for x in row["load"])
    print(
        f"\n{row['clusters']} clusters ({row['keys']} keys), filled in {row['fill_s']:.0f} s, "
        f"{row['errors']} failed create(s); load average {load}\n"
        f"  create -> ACTIVE      p50 {row['create_p50'] * 1000:7.0f} ms   "
        f"p95 {row['create_p95'] * 1000:7.0f} ms\n"
        f"  round trip (tenant)   p50 {row['rt_p50'] * 1000:7.0f} ms   "
        f"p95 {row['rt_p95'] * 1000:7.0f} ms\n"
        f"  reconciler pass       {row['reconcile_s'] * 1000:7.0f} ms, "
        f"{row['reconcile_calls']} admin calls {row['reconcile_calls_by']}\n"
        f"  sampler CPU per pass  {row['sampler_cpu_s'] * 1000:7.0f} ms\n"
        f"  broker heap in use    {row['heap_mb']:7.0f} MB (mean of nodes, after a full GC)\n"
        f"  console RSS           {row['console_rss_mb']:7.0f} MB",
        flush=True,
    )


def print_summary(results: list[dict]) -> None:
    first, last = results[0], results[-1]
    if first is last:
        print("one step only: no ratios")
        return
    n = f"{last['clusters']}/{first['clusters']}"
    print(f"\nratios, the {last['clusters']} step to the {first['clusters']} step ({n} clusters)")

    def ratio(key: str) -> float:
        return last[key] / first[key] if first[key] else float("inf")

    goals = [
        ("create -> ACTIVE p95", "create_p95", 1.5),
        ("round trip p95", "rt_p95", 1.5),
        ("reconciler pass", "reconcile_s", 100.0),
        ("sampler CPU per pass", "sampler_cpu_s", 100.0),
        ("broker heap in use", "heap_mb", None),
        ("console RSS", "console_rss_mb", None),
    ]
    for label, key, goal in goals:
        r = ratio(key)
        verdict = "" if goal is None else f"goal <= {goal:g}x: {'met' if r <= goal else 'NOT met'}"
        print(f"  {label:<22} {r:7.2f}x   {verdict}")
    flat = last["reconcile_calls"] == first["reconcile_calls"]
    print(
        f"  reconciler admin calls {first['reconcile_calls']} -> {last['reconcile_calls']} "
        f"({first['keys']} -> {last['keys']} keys): "
        f"goal no call per key: {'met' if flat else 'NOT met'}"
    )
    print(
        "  load average at each step: "
        + "; ".join(
            f"{r['clusters']}: " + ", ".join(f"{x:.1f}" for x in r["load"]) for r in results
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
