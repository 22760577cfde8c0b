"""Benchmark: what one cell's costs do as it fills with tenants (issue 20, goal 3).

    .venv/bin/python bench/density.py [--steps 10,100,1000] [--max N] [--workers 3]
        [--timed 20] [--kafka-timeout 60] [--sampler-interval S] [--workdir DIR]

Starts a 3-node local cell and the embedded console (`manage.py run_console --no-fleet`,
SQLite, in-process tasks, its own sampler and periodic jobs) in a work dir, and fills the cell
step by step to 10, 100 and 1,000 serverless clusters (`--steps` sets other counts, `--max`
stops earlier: `--max 100` is the quick run).

Knobs for a small or loaded host: `--kafka-timeout` is the console's SKIFF_KAFKA_TIMEOUT (60 s
here; the service's 15 s made creates fail on a 2-core host at load 85-95 past ~350 clusters),
`--workers` the threads filling the cell, `--retries` the retries of a failed create. While
filling, a line every `--progress` clusters gives that batch's create -> ACTIVE and topic
creation times, the console's and the brokers' CPU seconds and the load average: where the
time goes as the cell fills. Each step's figures are printed and saved (density.json) as soon
as they are measured. With `--workdir DIR` the cell, the database and the clusters' keys stay
in DIR: a run stopped by Ctrl-C or a crash is resumed by the same command (the cell restarts
with its data, the steps measured are kept, the fill goes on from where it stopped).

Every cluster is made through the API (its key, the default produce-and-consume policy: ~10
ACLs) and gets 5 topics of one partition (made in one CreateTopics request by the platform,
then imported by the topic sync). Teams hold 10 clusters each, as tenants would. Before the
first step, `--warmup` clusters (5) are created, given `--warmup-seconds` (120) of round trips
back to back and deleted, untimed, so that the first step is not measured against a console and
a cell that have served nothing yet. The brokers run the full tiered JIT, as a production cell
does (the compose image); `--fast-start` gives them the local cell's C1-only fast start instead.

At each step:

* create → ACTIVE p95: the step's last `--timed` clusters are created one after the other
  (POST, then GET until ACTIVE), into a cell that already holds the rest of the step, once the
  brokers and the console are at rest (`settle`: not in the backlog of the fill or of the
  console's start, and the brokers' JIT compiling less than 5% of a core);
* produce/consume round trip p95 with a tenant key: `--rt-clusters` clusters spread over the
  whole cell, each with its own key and a connected producer and consumer: produce one record
  (acks=all), wait until the consumer has it; `--rt-rounds` (20) times each, after an untimed
  one per cluster, the samples paced evenly over `--rt-seconds` (60: the cell's periodic
  bursts then weigh what their share of the time is; 200 samples, not 100: the p95
  of 100 is the fifth slowest, so one burst decided it), printed with the share of a core the
  brokers' JIT used meanwhile (a step measured while it compiles is not the density's
  doing); then the same again with the console paused (SIGSTOP), a diagnosis, not a goal:
  the cell alone at this density, beside the cell with the console's sampler and periodic
  jobs on the same host;
* the reconciler's full pass (`reconcile_all_access`, the 60 s periodic repair of every key's
  ACLs and quotas): wall and CPU time (median of 3) and the number of admin calls it made;
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
import contextlib
import json
import os
import random
import signal
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

from bench.measure import (  # noqa: E402
    cpu_seconds,
    free_port,
    percentile,
    rss_mb,
    thread_cpu_seconds,
)

STEPS = (10, 100, 1000)
TOPICS_PER_CLUSTER = 5
CLUSTERS_PER_TEAM = 10
# Seconds between a fill create's GETs (the timed creates poll every 0.05 s).
FILL_POLL = 0.25
# The brokers together below this share of one core count as quiet (`settle`): the cell at
# rest, scraped every second, used 10-25% on this kind of host.
SETTLED_BROKER_CPU = 0.4
# ... and their share still falling by more than this from one window to the next is a backlog.
SETTLE_SLACK = 0.03
# ... and their JIT compiling below this share of one core, two windows running, counts as warm.
# The full tiered JIT of a just-started 10-cluster cell, round trips at 3.3 a second, compiled
# 13.8, 10.0 and 7.1 s a minute in its first three minutes (23%, 17% and 12% of a core, most of
# the brokers' CPU), and the round trip p95 fell with it: 11.3, 8.4, 7.4 ms, then 5.0 ms at
# 2.8 s a minute. The first step came 2-3 minutes after the start: a step measured while the
# JIT still compiles measures the JIT, not the density.
SETTLED_JIT = 0.05
JIT_THREADS = ("C1 CompilerThre", "C2 CompilerThre")


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

    def create_cluster(
        self, token: str, name: str, timeout: float = 180, poll: float = 0.05
    ) -> tuple[dict, float]:
        """POST, then GET every `poll` s until ACTIVE. Returns (the create response, seconds
        to ACTIVE)."""
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
            time.sleep(poll)
            got = s.get(f"{self.base}/api/v1/clusters/{body['id']}/", timeout=timeout).json()
            state = got.get("state")
        return body, time.perf_counter() - t0

    def delete_cluster(self, token: str, cluster_id: str, timeout: float = 180) -> None:
        """DELETE, then wait (`?wait=`) until the cluster is gone (a 404)."""
        s = self._session(token)
        r = s.delete(f"{self.base}/api/v1/clusters/{cluster_id}/", timeout=timeout)
        if r.status_code != 202:
            raise RuntimeError(f"delete {cluster_id}: {r.status_code} {r.text[:300]}")
        deadline = time.perf_counter() + timeout
        while True:
            got = s.get(f"{self.base}/api/v1/clusters/{cluster_id}/?wait=30", timeout=timeout)
            if got.status_code == 404:
                return
            if time.perf_counter() > deadline:
                raise RuntimeError(f"cluster {cluster_id} not deleted in {timeout:.0f} s")


def _cpu(pids: list[int], *threads: str) -> float:
    """CPU seconds so far of these processes, or only of their threads named `threads`."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):  # gone: counts no more
            total += thread_cpu_seconds(pid, *threads) if threads else cpu_seconds(pid)
    return total


def settle(
    brokers: list[int], console: int, *, bound: float, window: float = 5.0
) -> tuple[float, float, float, float]:
    """Wait until the cell and the console are at rest, at most `bound` seconds: the brokers
    below SETTLED_BROKER_CPU of a core over `window` seconds, their JIT below SETTLED_JIT over
    this window and the one before, and neither the brokers' share nor the console's still
    falling (by more than SETTLE_SLACK from the window before). Returns (seconds waited, the
    brokers' last share, the console's, the brokers' JIT's).

    Right after a fill of 880 clusters the brokers used 36% of a core, below the bound; the
    same cell restarted and left alone used 15-24%. And the first step comes seconds after the
    console starts, with its first passes of every periodic job. A step measured in either
    backlog is not the cell at rest, and the ratios compare steps."""
    started = time.perf_counter()
    before: tuple[float, float] | None = None
    jit_before = 1.0  # no window yet: as if compiling, so that two windows are needed
    while True:
        b0, c0, j0 = _cpu(brokers), _cpu([console]), _cpu(brokers, *JIT_THREADS)
        w0 = time.perf_counter()
        time.sleep(window)  # a measuring window, not a wait for something to happen
        seconds = time.perf_counter() - w0
        now = ((_cpu(brokers) - b0) / seconds, (_cpu([console]) - c0) / seconds)
        jit = max(0.0, _cpu(brokers, *JIT_THREADS) - j0) / seconds
        waited = time.perf_counter() - started
        at_rest = (
            now[0] < SETTLED_BROKER_CPU
            and max(jit, jit_before) < SETTLED_JIT
            and before is not None
            and all(n >= b - SETTLE_SLACK for n, b in zip(now, before, strict=True))
        )
        if at_rest or waited >= bound:
            if not at_rest:
                print(
                    f"  WARNING: not at rest after {waited:.0f} s: the brokers used {now[0]:.0%} "
                    f"of a core (their JIT {jit:.0%}), the console {now[1]:.0%}"
                    + (f" ({before[0]:.0%}, {before[1]:.0%} the window before)" if before else ""),
                    file=sys.stderr,
                    flush=True,
                )
            return waited, now[0], now[1], jit
        before, jit_before = now, jit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        default=",".join(str(s) for s in STEPS),
        help="cluster counts to measure at, comma-separated (default 10,100,1000)",
    )
    parser.add_argument("--max", type=int, default=None, help="stop after this step")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="threads filling the cell")
    parser.add_argument("--timed", type=int, default=20, help="timed creates per step")
    parser.add_argument("--rt-clusters", type=int, default=10)
    parser.add_argument("--rt-rounds", type=int, default=20)
    parser.add_argument(
        "--rt-seconds",
        type=float,
        default=60.0,
        help="the round trips' samples are paced evenly over this many seconds",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="clusters created (with their topics) and deleted before the first step, "
        "untimed: the first step's creates then find a warm console and cell",
    )
    parser.add_argument("--heap-mb", type=int, default=None)
    parser.add_argument(
        "--fast-start",
        action="store_true",
        help="brokers with the local cell's fast start (C1 JIT only: quicker to start, slower "
        "code) instead of the full tiered JIT that a production cell (the compose image) runs",
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=120.0,
        help="untimed round trips on the warm-up clusters, back to back, for this long before "
        "the first step (the full JIT compiles the brokers' hot paths only after many calls)",
    )
    parser.add_argument(
        "--kafka-timeout",
        type=float,
        default=60.0,
        help="SKIFF_KAFKA_TIMEOUT of the console and the bench, s (the service's default, 15, "
        "fails creates on a loaded 2-core host past a few hundred clusters)",
    )
    parser.add_argument(
        "--sampler-interval",
        type=float,
        default=None,
        help="SAMPLER_INTERVAL of the console, s (default: the service's, 1)",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=180,
        help="seconds to wait at most, before measuring a step, for the brokers to be quiet",
    )
    parser.add_argument("--retries", type=int, default=1, help="retries of a failed create")
    parser.add_argument(
        "--start-timeout", type=float, default=600, help="seconds for the cell to serve (start)"
    )
    parser.add_argument(
        "--progress", type=int, default=25, help="a progress line every N clusters filled"
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="keep the cell, database and state here; run again with the same --workdir "
        "to resume where a stopped run left off (its measured steps are kept)",
    )
    args = parser.parse_args()
    steps = sorted({int(s) for s in args.steps.split(",") if s.strip()})
    if args.max is not None:
        steps = [s for s in steps if s <= args.max] or [args.max]

    work = Path(args.workdir or tempfile.mkdtemp(prefix="skiff-bench-density-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    state_path = work / "density-state.json"
    results_path = work / "density.json"
    resuming = state_path.exists()
    state = (
        json.loads(state_path.read_text())
        if resuming
        else {"tokens": [], "clusters": [], "next_index": 0}
    )
    results: list[dict] = json.loads(results_path.read_text()) if results_path.exists() else []
    teams_needed = -(-steps[-1] // CLUSTERS_PER_TEAM)
    env_vars = {
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "SKIFF_HOME": str(work / "home"),
        "SQLITE_PATH": str(work / "bench.sqlite3"),
        "SKIFF_TASKS_INLINE": "1",
        "SKIFF_AUTOSCALE_ENABLED": "false",
        # Teams hold CLUSTERS_PER_TEAM; the room above it is for creates that failed.
        "SKIFF_MAX_CLUSTERS_PER_TEAM": str(2 * CLUSTERS_PER_TEAM),
        # 1,000 clusters x 5 topics x RF 3 on 3 brokers: 5,000 replicas per broker.
        "SKIFF_PARTITIONS_PER_BROKER": str(max(4000, 2 * steps[-1] * TOPICS_PER_CLUSTER)),
        "SKIFF_KAFKA_TIMEOUT": str(args.kafka_timeout),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    if args.sampler_interval is not None:
        env_vars["SAMPLER_INTERVAL"] = str(args.sampler_interval)
    os.environ.update(env_vars)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic
    from django.conf import settings
    from django.core.management import call_command

    from clusters.services.access.reconcile import reconcile_all_access
    from clusters.services.topic_sync import sync_all_topics
    from console.models import Team, User
    from console.services.teams import api_token_create, team_create, user_create
    from fleet.kafka.connection import close_clients
    from fleet.models import Broker
    from fleet.services.cells import cell_record_local, fleet_down, local_cell
    from fleet.services.sampler import Sampler

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    # fleet_up with a longer wait: a cell restarted with thousands of partitions on a loaded
    # host took more than its 120 s to serve again.
    cell = cell_record_local(
        local_cell("density").up(
            nodes=args.nodes,
            heap_mb=args.heap_mb or settings.SKIFF_BROKER_HEAP_MB,
            timeout=args.start_timeout,
            fast_start=args.fast_start,
        )
    )
    print(
        f"cell of {args.nodes} node(s) {'restarted' if resuming else 'ready'} in "
        f"{time.perf_counter() - t0:.1f} s; work {work}"
        + (f" (resuming at {len(state['clusters'])} clusters)" if resuming else ""),
        flush=True,
    )
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
    owner = User.objects.filter(email="owner@example.com").first()
    if owner is None:
        owner = user_create(email="owner@example.com", password="bench-Passw0rd!", validate=False)
        owner = User.objects.get(pk=owner.pk)
    tokens: list[str] = state["tokens"]
    for t in range(len(tokens), teams_needed):
        team = Team.objects.filter(slug=f"tenant{t}").first() or team_create(
            name=f"Tenant {t}", slug=f"tenant{t}", owner=owner
        )
        tokens.append(api_token_create(user=owner, team=team, name="bench")[1])
    clusters: list[dict] = state["clusters"]  # {"id", "prefix", "username", "secret"}
    lock = threading.Lock()

    def save_state() -> None:
        with lock:
            text = json.dumps(state)
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(state_path)

    save_state()

    port = free_port()
    py = sys.executable
    log = open(work / "console.log", "ab")  # noqa: SIM115 (closed below)
    console_proc = subprocess.Popen(
        [py, "manage.py", "run_console", "--no-fleet", "--addrport", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, **env_vars},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(port, console_proc)
        api = Console(port)

        def make(
            index: int, poll: float = 0.05, *, token: str | None = None, name: str = ""
        ) -> tuple[float, float, dict]:
            """One cluster: (seconds to ACTIVE, seconds to create its 5 topics, the create's
            answer). The fill polls less often than the timed creates: its GETs were a good
            part of the console's CPU. With `token` and `name` (the warm-up) the cluster is
            not one of the bench's."""
            kept = token is None
            token = token or tokens[index // CLUSTERS_PER_TEAM]
            last: Exception | None = None
            base = name or f"d{index}"
            for attempt in range(args.retries + 1):
                try:
                    body, seconds = api.create_cluster(
                        token, base if not attempt else f"{base}r{attempt}", poll=poll
                    )
                    break
                except Exception as exc:  # a timeout under load: try once more
                    last = exc
            else:
                assert last is not None
                raise last
            prefix = body["prefix"]  # `team.cluster.`
            t_topics = time.perf_counter()
            futures = admin.create_topics(
                [NewTopic(f"{prefix}t{n}", 1, min(3, args.nodes)) for n in range(5)],
                request_timeout=args.kafka_timeout,
            )
            for f in futures.values():
                f.result(timeout=args.kafka_timeout + 30)
            topics_s = time.perf_counter() - t_topics
            if kept:
                with lock:
                    clusters.append(client_entry(body))
            return seconds, topics_s, body

        def client_entry(body: dict) -> dict:
            """What the round trips need of a created cluster (and what the state file keeps)."""
            key = body["initial_key"]
            return {
                "id": body["id"],
                "prefix": body["prefix"],
                "username": key["username"],
                "secret": key["secret"],
            }

        def broker_pids() -> list[int]:
            return [p for p in Broker.objects.filter(cell=cell).values_list("pid", flat=True) if p]

        def fill(first: int, count: int, errors: list[str]) -> None:
            """Create `count` clusters from index `first`, a progress line every --progress."""
            brokers = broker_pids()
            done = 0
            while done < count:
                batch = min(args.progress, count - done)
                c0, b0, w0 = _cpu([console_proc.pid]), _cpu(brokers), time.perf_counter()
                active, topics_s = [], []
                with ThreadPoolExecutor(args.workers) as pool:
                    futures = [pool.submit(make, first + done + i, FILL_POLL) for i in range(batch)]
                    try:
                        for fut in futures:
                            try:
                                a, t, _ = fut.result()
                                active.append(a)
                                topics_s.append(t)
                            except Exception as exc:
                                errors.append(str(exc))
                    except BaseException:  # Ctrl-C: drop the creates not started yet
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise
                done += batch
                with lock:
                    state["next_index"] = first + done
                save_state()
                wall = time.perf_counter() - w0
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(
                    f"  filled {len(clusters)} ({batch} in {wall:.0f} s, {len(errors)} failed "
                    f"so far): to ACTIVE p50 {_ms(active, 0.5)} p95 {_ms(active, 0.95)}, "
                    f"5 topics p50 {_ms(topics_s, 0.5)}; CPU console "
                    f"{_cpu([console_proc.pid]) - c0:.1f} s, brokers {_cpu(brokers) - b0:.1f} s; "
                    f"load {load}",
                    flush=True,
                )

        if args.warmup and not clusters:
            # The first creates after the console and the cell start were the 10 step's
            # slowest, 400-880 ms against a p50 of 220-250 ms (the console's first imports and
            # queries, the brokers' first requests of each kind): not the cell at 10 clusters.
            w0 = time.perf_counter()
            made = [make(0, token=tokens[0], name=f"warmup{n}")[2] for n in range(args.warmup)]
            # Then their round trips, back to back: with the full JIT the brokers' produce,
            # fetch and TLS paths reach C2 only after thousands of calls, and the 10 step
            # should not be measured on half-compiled brokers (without this its p95 was 11 ms,
            # against 7 at 100 and at 1,000 clusters in the same run). It takes long: in 30 s
            # 2,700-2,900 round trips (client set-up included), in 150 s 25,900, nearly twice
            # the rate. (It does not make the 10 step's p95 steady: 5-9 ms in four runs.)
            warm = [client_entry(body) for body in made]
            warm_rts, w_rt = 0, time.perf_counter()
            while warm and time.perf_counter() - w_rt < args.warmup_seconds:
                try:
                    warm_rts += len(round_trips(warm, secured, len(warm), 20))
                except KafkaException as exc:
                    # Right after ACTIVE a broker may not have the new keys' ACLs yet
                    # (TOPIC_AUTHORIZATION_FAILED): try again until they have, within a bound.
                    if time.perf_counter() - w_rt > 60:
                        raise RuntimeError(f"warm-up round trips still fail: {exc}") from exc
                    time.sleep(0.5)
            for body in made:
                api.delete_cluster(tokens[0], body["id"])
            print(
                f"warm-up: {args.warmup} cluster(s) created, {warm_rts} round trips on them, "
                f"deleted, in {time.perf_counter() - w0:.0f} s",
                flush=True,
            )
        measured = {r["clusters"] for r in results}
        for step in steps:
            if step in measured or step < len(clusters):
                continue  # measured by the run this one resumes, or passed already
            timed = max(0, min(args.timed, step - len(clusters)))
            to_fill = step - len(clusters) - timed
            t_fill = time.perf_counter()
            errors: list[str] = []
            if to_fill > 0:
                print(f"filling to {step - timed} clusters", flush=True)
                fill(state["next_index"], to_fill, errors)
            # The timed creates, too, go into the cell at rest at this density, not into the
            # backlog of the fill or (the first step) of the console's start.
            before_creates_s, _, _, _ = settle(
                broker_pids(), console_proc.pid, bound=args.settle_timeout
            )
            creates = []
            for _ in range(timed):
                index = state["next_index"]
                with lock:
                    state["next_index"] = index + 1
                try:
                    creates.append(make(index)[0])
                except Exception as exc:
                    errors.append(str(exc))
            save_state()
            fill_seconds = time.perf_counter() - t_fill
            if errors:
                print(f"  {len(errors)} create(s) failed, first: {errors[0]}", file=sys.stderr)
            sync_all_topics()  # the console's 30 s job, now: every topic is known
            # Measure the cell as it runs at this density, not the backlog of the fill (new
            # partitions' first checkpoints, the console's periodic passes over new rows).
            settle_s, broker_idle, console_idle, jit_idle = settle(
                broker_pids(), console_proc.pid, bound=args.settle_timeout
            )

            # The round trip, on clusters spread over the whole cell (each client's first
            # produce and consume, its connections and metadata, is not timed).
            j0, w0 = _cpu(broker_pids(), *JIT_THREADS), time.perf_counter()
            rt = round_trips(
                clusters, secured, args.rt_clusters, args.rt_rounds, spread=args.rt_seconds
            )
            jit_rt = max(0.0, _cpu(broker_pids(), *JIT_THREADS) - j0) / (time.perf_counter() - w0)
            # The same with the console paused (SIGSTOP: no sampler, no periodic job, nothing
            # it asks the brokers): what the cell alone does at this density, beside what the
            # cell and the console together do on this host. Not a goal: a diagnosis.
            os.kill(console_proc.pid, signal.SIGSTOP)
            try:
                rt_alone = round_trips(
                    clusters, secured, args.rt_clusters, args.rt_rounds, spread=args.rt_seconds
                )
            finally:
                os.kill(console_proc.pid, signal.SIGCONT)

            # The reconciler's full pass.
            passes, calls = [], Counter()
            cpu_passes = []
            for _ in range(3):
                with counted_superuser_calls() as counts:
                    p0, c0 = time.perf_counter(), time.process_time()
                    reports = reconcile_all_access()
                    passes.append(time.perf_counter() - p0)
                    cpu_passes.append(time.process_time() - c0)
                calls = counts
            keys = sum(r.keys for r in reports.values())

            # The sampler's CPU per pass (a first pass has nothing to compare with).
            sampler = Sampler()
            sampler.run_once()
            cpu, unscraped = [], set()
            for _ in range(3):
                c0 = time.process_time()
                result = sampler.run_once()
                cpu.append(time.process_time() - c0)
                unscraped |= {t.node_id for t in result.unreachable}
            if unscraped:
                # Seen after a resume: the restarted cell's exporters answered 401 (see
                # the notes of issue 20). A pass that parsed nothing is not comparable.
                print(
                    f"  WARNING: node(s) {sorted(unscraped)} did not answer the sampler: its "
                    "CPU figure at this step is not comparable",
                    file=sys.stderr,
                    flush=True,
                )

            pids = broker_pids()
            heap = statistics.mean(heap_used_mb(pid) for pid in pids) if pids else float("nan")
            row = {
                "clusters": len(clusters),
                "keys": keys,
                "create_p95": percentile(creates, 0.95) if creates else float("nan"),
                "create_p50": percentile(creates, 0.50) if creates else float("nan"),
                # In order: which of the timed creates were slow (the first, after the fill?).
                "create_s": creates,
                "rt_p95": percentile(rt, 0.95),
                "rt_p50": percentile(rt, 0.50),
                "rt_jit": jit_rt,
                "rt_console_paused_p95": percentile(rt_alone, 0.95),
                "rt_console_paused_p50": percentile(rt_alone, 0.50),
                "reconcile_s": statistics.median(passes),
                "reconcile_cpu_s": statistics.median(cpu_passes),
                "reconcile_calls": sum(calls.values()),
                "reconcile_calls_by": dict(calls),
                "sampler_cpu_s": statistics.median(cpu),
                "sampler_unscraped_nodes": sorted(unscraped),
                "heap_mb": heap,
                "console_rss_mb": rss_mb(console_proc.pid),
                "load": os.getloadavg(),
                "settle_s": settle_s,
                "settle_before_creates_s": before_creates_s,
                "broker_idle_cpu": broker_idle,
                "broker_idle_jit": jit_idle,
                "console_idle_cpu": console_idle,
                "fill_s": fill_seconds,
                "errors": len(errors),
            }
            results.append(row)
            print_row(row)
            results_path.write_text(json.dumps(results, indent=1))
        print_summary(sorted(results, key=lambda r: r["clusters"]))
        print(f"\nstate kept in {work}: run again with --workdir {work} to resume or go further")
    finally:
        console_proc.terminate()
        try:
            console_proc.wait(30)
        except subprocess.TimeoutExpired:
            console_proc.kill()
        log.close()
        # This process's cached admin clients (the topic sync's, the reconciler's) would go on
        # asking the stopped cell, a screenful of refused connections before it exits.
        close_clients()
        fleet_down(name="density")
    return 0


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f} ms" if values else "-"


def round_trips(
    clusters: list[dict], secured: dict, count: int, rounds: int, *, spread: float = 0.0
) -> list[float]:
    """Seconds from produce (acks=all) to the consumer having the record, with tenant keys:
    `rounds` times on each of `count` clusters, round after round over all of them, the
    samples paced evenly over `spread` seconds.

    Why paced: the cell's periodic work comes in bursts (the topic sync's config read cost
    one broker 0.35-0.8 s of CPU every 30 s at 1,000 clusters), and 100 samples taken back to
    back in a second or two either all miss a burst or many hit it: the p95 of one run said
    0.96x and of the next 2.43x. Spread over half a minute, a burst weighs what its share of
    the time is."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    rng = random.Random(len(clusters))
    chosen = rng.sample(clusters, min(count, len(clusters)))
    clients = []
    out: list[float] = []
    try:
        for c in chosen:
            conf = {**secured, "sasl.username": c["username"], "sasl.password": c["secret"]}
            topic = f"{c['prefix']}t0"
            producer = Producer({**conf, "acks": "all", "linger.ms": 0})
            # Kafka's default fetch wait (500 ms), as a tenant's consumer has: the leader
            # answers a waiting fetch as soon as the record is committed, so the round trip is
            # the same. With 10 ms, ten idle consumers sent ~1,000 fetches a second and cost
            # the brokers ~40% of a core (70% against 33%, at 1,000 clusters): the measurement
            # loaded the cell it measured.
            consumer = Consumer(
                {**conf, "group.id": f"{c['prefix']}rt", "enable.auto.commit": False}
            )
            clients.append((topic, producer, consumer))
            # From the current end, resolved now (OFFSET_END would resolve at the first fetch,
            # which may come after the first record).
            high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)[1]
            consumer.assign([TopicPartition(topic, 0, high)])
            _round_trip(topic, producer, consumer)  # a warm-up: connections, metadata
        slot = spread / max(1, rounds * len(clients))
        started = time.perf_counter()
        for n in range(rounds * len(clients)):
            # Pacing, not waiting for a condition: sample n starts at its slot.
            time.sleep(max(0.0, started + n * slot - time.perf_counter()))
            out.append(_round_trip(*clients[n % len(clients)]))
    finally:
        for _, _, consumer in clients:
            consumer.close()
    return out


def _round_trip(topic: str, producer, consumer) -> float:
    value = uuid.uuid4().bytes
    t0 = time.perf_counter()
    producer.produce(topic, value)
    if producer.flush(30):
        raise RuntimeError(f"{topic}: not delivered in 30 s")
    deadline = time.perf_counter() + 60
    while True:
        message = consumer.poll(0.5)
        if message is not None and not message.error() and message.value() == value:
            return time.perf_counter() - t0
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{topic}: not consumed in 60 s")


def _slowest(creates: list[float]) -> str:
    """The three slowest timed creates and their place in the sequence (1 = right after the
    fill): a p95 of 20 is the second slowest, so one or two outliers decide it."""
    if not creates:
        return ""
    worst = sorted(range(len(creates)), key=lambda i: -creates[i])[:3]
    return "   slowest " + ", ".join(f"#{i + 1} {creates[i] * 1000:.0f} ms" for i in worst)


def print_row(row: dict) -> None:
    load = ", ".join(f"{x:.1f}" for x in row["load"])
    print(
        f"\n{row['clusters']} clusters ({row['keys']} keys), filled in {row['fill_s']:.0f} s, "
        f"{row['errors']} failed create(s); load average {load}\n"
        f"  create -> ACTIVE      p50 {row['create_p50'] * 1000:7.0f} ms   "
        f"p95 {row['create_p95'] * 1000:7.0f} ms" + _slowest(row.get("create_s") or []) + "\n"
        f"  round trip (tenant)   p50 {row['rt_p50'] * 1000:7.0f} ms   "
        f"p95 {row['rt_p95'] * 1000:7.0f} ms"
        + (
            f"   the brokers' JIT meanwhile {row['rt_jit']:.1%} of a core"
            if "rt_jit" in row
            else ""
        )
        + "\n"
        + (
            f"    the console paused  p50 {row['rt_console_paused_p50'] * 1000:7.0f} ms   "
            f"p95 {row['rt_console_paused_p95'] * 1000:7.0f} ms\n"
            if "rt_console_paused_p95" in row
            else ""
        )
        + f"  reconciler pass       {row['reconcile_s'] * 1000:7.0f} ms "
        f"({row.get('reconcile_cpu_s', float('nan')) * 1000:.0f} ms CPU), "
        f"{row['reconcile_calls']} admin calls {row['reconcile_calls_by']}\n"
        f"  sampler CPU per pass  {row['sampler_cpu_s'] * 1000:7.0f} ms\n"
        f"  broker heap in use    {row['heap_mb']:7.0f} MB (mean of nodes, after a full GC)\n"
        f"  console RSS           {row['console_rss_mb']:7.0f} MB"
        + (
            f"\n  creates after {row.get('settle_before_creates_s', 0):.0f} s of settling, the "
            f"rest after {row['settle_s']:.0f} s; brokers then used "
            f"{row['broker_idle_cpu']:.0%} of a core"
            + (f" (their JIT {row['broker_idle_jit']:.1%})" if "broker_idle_jit" in row else "")
            + ", the console "
            f"{row.get('console_idle_cpu', float('nan')):.0%}"
            if "settle_s" in row
            else ""
        ),
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
        ("  the console paused", "rt_console_paused_p95", None),
        ("reconciler pass", "reconcile_s", 100.0),
        ("sampler CPU per pass", "sampler_cpu_s", 100.0),
        ("broker heap in use", "heap_mb", None),
        ("console RSS", "console_rss_mb", None),
    ]
    for label, key, goal in goals:
        if key not in first or key not in last:
            continue  # a step measured by an older bench (a resumed run)
        r = ratio(key)
        verdict = "" if goal is None else f"goal <= {goal:g}x: {'met' if r <= goal else 'NOT met'}"
        if key == "sampler_cpu_s" and any(
            row.get("sampler_unscraped_nodes") for row in (first, last)
        ):
            verdict = "not comparable: some brokers did not answer the sampler"
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
