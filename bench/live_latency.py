"""Benchmark: produce → WebSocket latency of live throughput, and its costs.

Starts a throwaway local cell (default 3 nodes) and a console in a temp dir (SQLite), creates a
team, a serverless cluster, a probe topic and --topics more one-partition topics (default 1,000,
each given one message so that the brokers export its series), then for each topology:

* embedded   — `manage.py run_console --no-fleet`: web + sampler thread in one process, in-memory
               channel layer (what `make run` gives);
* production — a private redis-server, `daphne console.asgi:application` as the web process and
               `manage.py run_sampler` as its own process (what docker-compose runs);

it measures, over --cpu-window seconds each: the brokers' CPU before the console starts (no
scrapes) and again with the sampler running and no sockets — the difference is what the
brokers spend answering the scrapes: since issue 20 the sampler reads each broker's own per-topic
endpoint (io.skiff.metrics.TopicMetricsEndpoint) each second, and the JMX exporter only for the
cell page and the 60 s legacy-client scan (counted when they run) — and the sampler's own CPU (its
process in production; in the embedded topology the whole web process, an upper bound). Then it
opens N idle WebSocket clients (default 500) subscribed to the cluster, measures the web
process's CPU over a window (and, before they connect, with none), then runs trials: wait a
random 0 to interval s, produce one message with the cluster's key, and time until a pushed
document shows the topic's messages_in rate > 0. Latency is counted from the broker's delivery
acknowledgement (and also from the start of the produce call, which includes the new client's
TLS + SCRAM handshake). Prints p50/p95/max and CPU, and each goal of issue 20 as met or not
with the load average: produce → chart p95 <= 2.0 s and p50 <= 1.0 s; sampler + the brokers'
metrics endpoints <= 5% of a core at 1,000 topics; 500 idle sockets <= 15% of a core.
bench/scrape_cost.py measures the per-scrape costs alone (exporter against endpoint).

Where the time goes, per trial, from the document's `ts` (taken by the sampler right after the
scrape that saw the message): ack → ts is waiting for the next pass plus its scrape, which the
interval alone decides (uniform over 0..interval, p95 about 0.95 * interval: the baseline, measured
in the same run); ts → socket is what the push pipeline adds (documents, channel layer, the
fan-out to all N+1 subscribers: the probe subscribes last, so it is served last). The ratio
p95(ack → socket) / p95(ack → ts) is the push pipeline's cost against that baseline.

    .venv/bin/python bench/live_latency.py [--clients 500] [--trials 20] [--nodes 3]
                                           [--topics 1000] [--interval 1] [--heartbeat 5]
                                           [--topology both|embedded|production]
                                           [--watch cluster|topic]

--watch topic puts every socket on the probe topic's page instead of the cluster's: each receives
that topic's share of the cluster's push, cut once per push for all of them.
"""

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds, free_port, percentile  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_share(pids: list[int], window: float) -> float:
    """Cores used by these processes together over `window` seconds (0.05 = 5% of a core)."""
    t0, c0 = time.monotonic(), sum(cpu_seconds(p) for p in pids)
    time.sleep(window)
    return (sum(cpu_seconds(p) for p in pids) - c0) / (time.monotonic() - t0)


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


# --- a minimal WebSocket client (RFC 6455), enough for server → client text frames ----------


class Socket:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, path: str, cookie: str) -> "Socket":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
                f"Cookie: {cookie}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 101 " not in status:
            raise RuntimeError(f"handshake refused: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        return cls(reader, writer)

    async def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode, 0x80 | len(payload)])  # control frames are < 126 bytes
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def receive(self) -> str | None:
        """The next text message; answers pings; None when the server closes."""
        parts: list[bytes] = []
        while True:
            b1, b2 = await self.reader.readexactly(2)
            opcode, length = b1 & 0x0F, b2 & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            mask = await self.reader.readexactly(4) if b2 & 0x80 else None
            payload = await self.reader.readexactly(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                await self._send(0xA, payload)
                continue
            if opcode == 0x8:
                return None
            if opcode in (0x1, 0x0):
                parts.append(payload)
                if b1 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.writer.close()


async def idle_client(port, path, cookie, counter, ready, gate):
    # A few handshakes at a time, as browsers arriving would: the dev server's listen backlog
    # is small, and a burst of 500 SYNs only measures the kernel's queue.
    async with gate:
        for attempt in range(10):
            try:
                ws = await Socket.connect(port, path, cookie)
                break
            except (ConnectionError, asyncio.IncompleteReadError, RuntimeError):
                if attempt == 9:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
    ready.append(ws)
    while True:
        message = await ws.receive()
        if message is None:
            return
        counter[0] += 1


# --- one topology ---------------------------------------------------------------------------


def run_topology(name: str, args, env: dict, ctx: dict, work: Path) -> dict:
    from tests.fleet.kafka import gateway

    port = free_port()
    procs: list[subprocess.Popen] = []
    logs = []

    def start(cmd, label):
        log = open(work / f"{name}-{label}.log", "wb")  # noqa: SIM115 (closed below)
        logs.append(log)
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        procs.append(proc)
        return proc

    py = sys.executable
    if name == "embedded":
        web = start(
            [py, "manage.py", "run_console", "--no-fleet", "--addrport", f"127.0.0.1:{port}"],
            "web",
        )
        sampler = None
    else:
        web = start(
            [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "console.asgi:application"],
            "web",
        )
        sampler = start([py, "manage.py", "run_sampler"], "sampler")
    result: dict = {"topology": name, "brokers_quiet": ctx["brokers_quiet"]}
    try:
        wait_port(port, web)
        path = f"/ws/clusters/{ctx['cluster_id']}/throughput/"
        if args.watch == "topic":  # the probe topic's page: its share of each push
            path = f"/ws/clusters/{ctx['cluster_id']}/topics/{ctx['topic_short']}/throughput/"
        time.sleep(max(5.0, 3 * args.interval))  # the sampler's first passes (no rates yet)

        # With no socket: the web process (embedded: with the sampler thread), the sampler's
        # process (production) and the brokers (their metrics endpoints answering the scrapes).
        t0 = time.monotonic()
        c0 = {p: cpu_seconds(p) for p in [web.pid, *ctx["broker_pids"]]}
        s0 = cpu_seconds(sampler.pid) if sampler is not None else 0.0
        time.sleep(args.cpu_window)
        elapsed = time.monotonic() - t0
        result["cpu_idle_0"] = (cpu_seconds(web.pid) - c0[web.pid]) / elapsed
        result["brokers_scraped"] = (
            sum(cpu_seconds(p) - c0[p] for p in ctx["broker_pids"]) / elapsed
        )
        result["exporters"] = max(0.0, result["brokers_scraped"] - ctx["brokers_quiet"])
        result["sampler_idle"] = (
            (cpu_seconds(sampler.pid) - s0) / elapsed if sampler is not None else None
        )
        print(
            f"  [{name}] no sockets: web {100 * result['cpu_idle_0']:.1f}%"
            + (
                f", sampler process {100 * result['sampler_idle']:.1f}%"
                if sampler is not None
                else " (the sampler thread is in it)"
            )
            + f", brokers {100 * result['brokers_scraped']:.1f}% scraped vs "
            f"{100 * ctx['brokers_quiet']:.1f}% not (metrics endpoints "
            f"{100 * result['exporters']:.1f}%) of a core; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        async def scenario():
            counter = [0]
            ready: list[Socket] = []
            gate = asyncio.Semaphore(args.connect_concurrency)
            tasks = [
                asyncio.create_task(idle_client(port, path, ctx["cookie"], counter, ready, gate))
                for _ in range(args.clients)
            ]
            connect_started = time.monotonic()
            deadline = time.monotonic() + 600
            failed: list = []
            while len(ready) + len(failed) < args.clients and time.monotonic() < deadline:
                # A client the loaded server reset is counted, not fatal: the CPU figures are
                # per socket actually connected.
                failed = [t for t in tasks if t.done() and t.exception()]
                await asyncio.sleep(0.2)
            result["clients_failed"] = len(failed)
            result["clients_connected"] = len(ready)
            result["connect_seconds"] = time.monotonic() - connect_started
            await asyncio.sleep(args.interval)  # settle
            start_cpu, start_t, start_msgs = cpu_seconds(web.pid), time.monotonic(), counter[0]
            await asyncio.sleep(args.cpu_window)
            elapsed = time.monotonic() - start_t
            result["cpu_idle_n"] = (cpu_seconds(web.pid) - start_cpu) / elapsed
            result["pushes_per_client_per_s"] = (counter[0] - start_msgs) / elapsed / len(ready)
            print(
                f"  [{name}] web CPU {100 * result['cpu_idle_0']:.1f}% with 0 sockets, "
                f"{100 * result['cpu_idle_n']:.1f}% with {len(ready)} idle sockets "
                f"({result['pushes_per_client_per_s']:.2f} pushes/s each)",
                flush=True,
            )
            if sampler is not None:
                result["sampler_cpu"] = None  # measured below over the trials

            probe = await Socket.connect(port, path, ctx["cookie"])
            latencies_ack, latencies_call = [], []
            loop = asyncio.get_running_loop()
            s_cpu0, s_t0 = (cpu_seconds(sampler.pid), time.monotonic()) if sampler else (0, 0)

            async def next_doc():
                while True:
                    message = await probe.receive()
                    if message is None:
                        raise RuntimeError("probe socket closed")
                    doc = json.loads(message)
                    if "ts" in doc:
                        return doc, time.time()

            def rate(doc):
                return (
                    doc.get("topics", {}).get(ctx["topic_short"], {}).get("messages_in_per_sec", 0)
                )

            async def quiet():
                while True:
                    doc, _ = await next_doc()
                    if rate(doc) == 0:
                        return

            async def first_nonzero():
                while True:
                    doc, received = await next_doc()
                    if rate(doc) > 0:
                        stamped = dt.datetime.fromisoformat(doc["ts"].replace("Z", "+00:00"))
                        return received, stamped.timestamp()

            result["lost"] = 0
            latencies_wait, latencies_push = [], []
            for trial in range(args.trials):
                with contextlib.suppress(TimeoutError):  # the topic's rate is back to zero
                    await asyncio.wait_for(quiet(), 60)
                await asyncio.sleep(random.uniform(0, args.interval))
                call_started = time.time()
                acked = await loop.run_in_executor(
                    None,
                    lambda: (
                        gateway.produce(ctx["conn"], ctx["topic"], [b"x" * 1024]),
                        time.time(),
                    )[1],
                )
                try:
                    received, stamped = await asyncio.wait_for(first_nonzero(), 60)
                except TimeoutError:
                    result["lost"] += 1  # no document showed it within a minute
                    print(f"  [{name}] trial {trial + 1}: not seen within 60 s", flush=True)
                    continue
                latencies_ack.append(received - acked)
                latencies_call.append(received - call_started)
                latencies_wait.append(stamped - acked)
                latencies_push.append(received - stamped)
                print(
                    f"  [{name}] trial {trial + 1}/{args.trials}: "
                    f"{received - acked:.2f} s after the ack "
                    f"({stamped - acked:.2f} s to the scrape, {received - stamped:.3f} s push)",
                    flush=True,
                )
            if sampler is not None:
                result["sampler_cpu"] = (cpu_seconds(sampler.pid) - s_cpu0) / (
                    time.monotonic() - s_t0
                )
            result["lat_ack"] = latencies_ack
            result["lat_call"] = latencies_call
            result["lat_wait"] = latencies_wait
            result["lat_push"] = latencies_push
            probe.close()
            for ws in ready:
                ws.close()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(scenario())
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()
    result["slow_passes"] = sum(
        (work / f"{name}-{label}.log").read_text(errors="replace").count("sampler pass took")
        for label in ("web", "sampler")
        if (work / f"{name}-{label}.log").exists()
    )
    return result


def _produce_retrying(gateway, conn, topic: str) -> None:
    """A topic just created may not be known to every broker yet: retry for a bounded time."""
    deadline = time.monotonic() + 60
    while True:
        try:
            gateway.produce(conn, topic, [b"x"])
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0, help="SAMPLER_INTERVAL")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="SAMPLER_HEARTBEAT")
    parser.add_argument("--topics", type=int, default=1000, help="topics besides the probe")
    parser.add_argument("--heap-mb", type=int, default=512)
    parser.add_argument("--cpu-window", type=float, default=30.0)
    parser.add_argument("--connect-concurrency", type=int, default=5, help="handshakes at once")
    parser.add_argument("--topology", choices=["both", "embedded", "production"], default="both")
    parser.add_argument(
        "--watch",
        choices=["cluster", "topic"],
        default="cluster",
        help="the page every socket (idle and probe) is on: the cluster's or the probe topic's",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the cell and the servers are always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_before = os.getloadavg()[0]

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-live-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "SKIFF_HOME": str(work / "home"),
        "SQLITE_PATH": str(work / "bench.sqlite3"),
        "SKIFF_TASKS_INLINE": "1",
        "SAMPLER_INTERVAL": str(args.interval),
        "SAMPLER_HEARTBEAT": str(args.heartbeat),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    os.environ.clear()
    os.environ.update(env)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from clusters.services.clusters import ClusterSpec, cluster_create
    from console.services.teams import team_create, user_create
    from fleet.services.cells import cell_admin_connection, fleet_down, fleet_up
    from tests.fleet.kafka import gateway

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    # Another cell starting on the host at the same moment can take the chosen ports between
    # the check and the bind: start again under another name (a new port block).
    from fleet.runtime.launcher import CellError

    for attempt in range(3):
        cell_name = f"benchlive{attempt or ''}"
        try:
            cell = fleet_up(name=cell_name, nodes=args.nodes, heap_mb=args.heap_mb)
            break
        except CellError as exc:
            fleet_down(name=cell_name)
            if attempt == 2:
                raise
            print(f"cell did not start ({exc}); again under another name")
    print(f"cell of {args.nodes} node(s) ready in {time.perf_counter() - started:.1f} s")
    redis = None
    results = []
    try:
        user = user_create(
            email="bench@example.com",
            password="bench-Passw0rd!",
            validate=False,
        )
        team = team_create(name="Bench", slug="bench", owner=user)
        created = cluster_create(team=team, user=user, spec=ClusterSpec(name="live"))
        created.cluster.refresh_from_db()
        assert created.cluster.state == "ACTIVE", created.cluster.state_reason
        topic = f"{created.cluster.wire_prefix}probe"
        gateway.create_topic(cell_admin_connection(cell), topic, partitions=3)
        client = Client()
        client.force_login(user)
        ctx = {
            "cluster_id": created.cluster.pk,
            "topic": topic,
            "topic_short": "probe",
            "cookie": f"sessionid={client.cookies['sessionid'].value}",
            "conn": gateway.KafkaConnection(
                bootstrap=cell.bootstrap_servers,
                username=created.initial_key.username,
                password=created.secret,
                ca_path=cell.ca_path,
                timeout=20,
            ),
        }
        gateway.produce(ctx["conn"], topic, [b"warm-up"])
        admin = cell_admin_connection(cell)
        started = time.perf_counter()
        extra = [f"{created.cluster.wire_prefix}load{i:05d}" for i in range(args.topics)]
        for first in range(0, len(extra), 200):
            gateway.create_topics(admin, [(n, 1, {}) for n in extra[first : first + 200]])
        with ThreadPoolExecutor(32) as pool:  # one message each: the brokers export its series
            list(pool.map(lambda n: _produce_retrying(gateway, admin, n), extra))
        print(
            f"{len(extra)} more topics, one message each, in {time.perf_counter() - started:.0f} s"
        )
        ctx["broker_pids"] = [
            pid for pid in cell.brokers.values_list("pid", flat=True) if pid is not None
        ]
        # The brokers' own CPU without any scrape: the baseline the scrapes' cost adds to.
        ctx["brokers_quiet"] = cpu_share(ctx["broker_pids"], args.cpu_window)
        print(f"brokers without scrapes: {100 * ctx['brokers_quiet']:.1f}% of a core")
        topologies = ["embedded", "production"] if args.topology == "both" else [args.topology]
        for name in topologies:
            run_env = dict(env)
            if name == "production":
                redis_port = free_port()
                redis = subprocess.Popen(
                    [
                        shutil.which("redis-server") or "/usr/bin/redis-server",
                        "--port",
                        str(redis_port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                wait_port(redis_port, redis)
                run_env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            print(f"{name}: starting ({args.clients} idle clients, {args.trials} trials)…")
            try:
                results.append(run_topology(name, args, run_env, ctx, work))
            except Exception as exc:  # one topology failing must not lose the other's numbers
                print(f"{name}: failed ({type(exc).__name__}: {exc}); its numbers above")
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        fleet_down(name=cell_name)

    print()
    print(
        f"live throughput, SAMPLER_INTERVAL={args.interval:g}s, SAMPLER_HEARTBEAT="
        f"{args.heartbeat:g}s, {args.nodes}-node local cell, {args.topics + 1} topics, "
        f"sockets on the {args.watch}'s page"
    )
    load_after = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before, "
        f"{load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} (1/5/15 min) after"
    )
    for r in results:
        nan = [float("nan")]
        ack, call = r["lat_ack"] or nan, r["lat_call"] or nan
        wait, push = r["lat_wait"] or nan, r["lat_push"] or nan
        print(f"[{r['topology']}]")
        if r.get("clients_failed"):
            print(f"  idle clients the server reset or refused: {r['clients_failed']}")
        if r.get("lost"):
            print(f"  trials never seen on the socket within 60 s: {r['lost']}")
        print(
            f"  produce ack → WebSocket: p50 {percentile(ack, 0.5):.2f} s, "
            f"p95 {percentile(ack, 0.95):.2f} s, max {max(ack):.2f} s (n={len(ack)})"
        )
        print(
            f"    of which ack → scrape done (baseline: the wait for the next pass): "
            f"p50 {percentile(wait, 0.5):.2f} s, p95 {percentile(wait, 0.95):.2f} s, "
            f"max {max(wait):.2f} s"
        )
        print(
            f"    and scrape done → WebSocket (push pipeline): p50 {percentile(push, 0.5):.3f} s, "
            f"p95 {percentile(push, 0.95):.3f} s, max {max(push):.3f} s"
        )
        print(
            f"    ratio p95(ack → WebSocket) / p95(baseline): "
            f"{percentile(ack, 0.95) / percentile(wait, 0.95):.3f}"
        )
        print(
            f"  produce call → WebSocket: p50 {percentile(call, 0.5):.2f} s, "
            f"p95 {percentile(call, 0.95):.2f} s, mean {statistics.mean(call):.2f} s"
        )
        print(
            f"  web process CPU: {100 * r['cpu_idle_0']:.1f}% of a core with 0 sockets, "
            f"{100 * r['cpu_idle_n']:.1f}% with {r['clients_connected']} idle sockets "
            f"subscribed ({r['pushes_per_client_per_s']:.2f} pushes/s each; all connected "
            f"in {r['connect_seconds']:.1f} s)"
        )
        print(f"  sampler passes slower than the interval: {r['slow_passes']}")
        if r.get("sampler_cpu") is not None:
            print(
                f"  sampler process CPU during the trials: {100 * r['sampler_cpu']:.1f}% of a core"
            )
        sampler_idle = r["sampler_idle"] if r["sampler_idle"] is not None else r["cpu_idle_0"]
        what = "sampler process" if r["sampler_idle"] is not None else "web process with sampler"
        print(
            f"  no sockets: {what} {100 * sampler_idle:.1f}% of a core; brokers "
            f"{100 * r['brokers_scraped']:.1f}% scraped vs {100 * r['brokers_quiet']:.1f}% not "
            f"(metrics endpoints: {100 * r['exporters']:.1f}%)"
        )
        sockets = r["cpu_idle_n"] - (r["cpu_idle_0"] if r["sampler_idle"] is None else 0.0)
        p50, p95 = percentile(ack, 0.5), percentile(ack, 0.95)
        load = f"load average {os.getloadavg()[0]:.1f}"
        goals = [
            (
                "produce → chart p95 <= 2.0 s and p50 <= 1.0 s",
                p95 <= 2.0 and p50 <= 1.0 and not r.get("lost"),
                f"p50 {p50:.2f} s, p95 {p95:.2f} s",
            ),
            (
                f"sampler + metrics endpoints <= 5% of a core at {args.topics + 1} topics",
                sampler_idle + r["exporters"] <= 0.05,
                f"{100 * (sampler_idle + r['exporters']):.1f}%",
            ),
            (
                f"{r['clients_connected']} idle sockets <= 15% of a core",
                sockets <= 0.15,
                f"{100 * sockets:.1f}%"
                + (
                    " (web CPU with sockets minus without: the sampler thread is in it)"
                    if r["sampler_idle"] is None
                    else ""
                ),
            ),
        ]
        for goal, ok, measured in goals:
            print(f"  goal: {goal}: {'met' if ok else 'NOT met'} ({measured}; {load})")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
