"""Benchmark: the CPU one metrics scrape costs a broker, and the sampler's CPU per pass (issue 20).

Starts a throwaway local cell (default 3 nodes) whose exporter still has the per-topic rules
(`LocalCell(exporter_topic_series=True)`, the rule set registered cells use), so that one JVM
serves both ways of reading the per-topic series:

* exporter — the JMX exporter agent, asked for the sampler's families only (`name[]`), which
  is how the sampler read every broker each second before issue 20;
* endpoint — the broker's own TopicMetricsEndpoint (io.skiff.metrics, fleet/policy/), a full
  answer;
* endpoint, changes only — the same endpoint asked with the token of its previous answer
  (`?since=`), which answers only the series that changed: what the sampler reads each second
  now (here the cell is quiet, so nearly nothing).

It creates --topics one-partition topics and gives each one message (so that every broker has
its meters), then, for each way: --scrapes rounds of one scrape of every broker, the brokers' CPU
from /proc/<pid>/stat before and after, minus their CPU over the same time without scrapes
(measured just before) → CPU per broker scrape. Then the sampler itself (`Sampler.run_once`,
against a SQLite database in the work dir) --passes times, one pass a second as in production,
its process CPU per pass (the scrape threads included), with the cell quiet, then with a
message produced to one topic before each pass (the answers change, so each is parsed). The
topics belong to one cluster (its rows only, no provisioning), so each pass also builds that
cluster's document and minute rows.

Prints the per-scrape costs, the sampler's, and issue 20's goal "sampler and exporters <= 5% of a
core at 1,000 topics" at a 1 s interval, with the load average (CPU seconds are meaningful on a
loaded host; wall times are not).

    .venv/bin/python bench/scrape_cost.py [--nodes 3] [--topics 1000] [--scrapes 20]
                                          [--passes 20] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds  # noqa: E402


def brokers_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def idle_rate(pids: list[int], seconds: float) -> float:
    """The brokers' CPU per second with nothing scraping them."""
    t0, c0 = time.monotonic(), brokers_cpu(pids)
    time.sleep(seconds)
    return (brokers_cpu(pids) - c0) / (time.monotonic() - t0)


def per_scrape(pids, urls, auth, rounds, idle, fetch) -> tuple[float, int]:
    """CPU of one broker scrape (the brokers' CPU minus their idle rate), and the answer size."""
    size = 0
    t0, c0 = time.monotonic(), brokers_cpu(pids)
    for _ in range(rounds):
        for url in urls:
            size = len(fetch(url, 60.0, auth))
    elapsed = time.monotonic() - t0
    spent = brokers_cpu(pids) - c0 - idle * elapsed
    return max(0.0, spent) / (rounds * len(urls)), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=20, help="rounds of scrapes per way")
    parser.add_argument("--passes", type=int, default=20, help="sampler passes per case")
    parser.add_argument("--idle-window", type=float, default=20.0)
    parser.add_argument("--heap-mb", type=int, default=512)
    parser.add_argument("--keep", action="store_true", help="leave the work dir")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-scrape-cost-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SKIFF_HOME": str(work / "home"),
            "SQLITE_PATH": str(work / "bench.sqlite3"),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "SKIFF_PARTITIONS_PER_BROKER": str(max(4000, 2 * args.topics)),
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from fleet.runtime.launcher import LocalCell
    from fleet.services.cells import cell_record_local
    from fleet.services.sampler import Sampler, fetch_metrics_text, url_since
    from tests.factories import ClusterFactory, TeamFactory
    from tests.fleet.kafka import gateway

    call_command("migrate", verbosity=0)
    load_before = os.getloadavg()[0]
    cell = LocalCell(work / "cell", name="scrapecost", exporter_topic_series=True)
    try:
        started = time.perf_counter()
        info = cell.up(nodes=args.nodes, heap_mb=args.heap_mb, timeout=300)
        print(f"cell of {args.nodes} node(s) up in {time.perf_counter() - started:.0f} s")
        admin = info.admin_connection(timeout=60.0)
        # One cluster's rows (no provisioning: the sampler only maps topic prefixes to them),
        # so that each pass also builds the cluster's document and minute rows.
        cluster = ClusterFactory(
            team=TeamFactory(slug="bench"), name="cost", cell=cell_record_local(info)
        )
        names = [f"{cluster.wire_prefix}t{i:05d}" for i in range(args.topics)]
        started = time.perf_counter()
        for first in range(0, len(names), 200):
            gateway.create_topics(admin, [(n, 1, {}) for n in names[first : first + 200]])

        def one_message(topic: str) -> None:
            for attempt in range(20):
                try:
                    gateway.produce(admin, topic, [b"x"])
                    return
                except Exception:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one_message, names))
        print(f"{len(names)} topics, one message each, in {time.perf_counter() - started:.0f} s")
        pids = [n.pid for n in info.nodes if n.pid is not None]
        auth = info.metrics_auth
        time.sleep(5)  # let the produce settle

        idle = idle_rate(pids, args.idle_window)
        print(f"brokers without scrapes: {100 * idle:.1f}% of a core (all {len(pids)})")
        tokens: dict[str, str] = {}

        def fetch_changes(url: str, timeout: float, auth: tuple[str, str] | None) -> str:
            text = fetch_metrics_text(url_since(url, tokens.get(url, "")), timeout, auth)
            tokens[url] = getattr(text, "token", "")
            return text

        costs = {}
        endpoints = [n.topic_metrics_url for n in info.nodes]
        for way, urls, fetch in (
            ("exporter", [n.metrics_url for n in info.nodes], fetch_metrics_text),
            ("endpoint", endpoints, fetch_metrics_text),
            ("endpoint, changes only", endpoints, fetch_changes),
        ):
            per_scrape(pids, urls, auth, 2, 0.0, fetch)  # warm up (JIT, caches)
            idle = idle_rate(pids, args.idle_window / 2)
            cost, size = per_scrape(pids, urls, auth, args.scrapes, idle, fetch)
            costs[way] = cost
            print(
                f"{way}: {1000 * cost:.1f} ms of broker CPU per scrape ({size / 1024:.0f} KiB "
                f"answer, {args.scrapes} rounds x {len(urls)} brokers); load "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )

        cell_record_local(info)  # again: the pids and URLs as they are now
        sampler = Sampler(timeout=30.0, flush_every=5.0)
        sampler.run_once()  # first pass: no rates yet
        passes: dict[str, list[float]] = {"quiet": [], "busy": []}
        for case in ("quiet", "busy"):
            for i in range(args.passes):
                if case == "busy":
                    gateway.produce(admin, names[i % len(names)], [b"y" * 100])
                next_at = time.monotonic() + 1.0
                c0 = time.process_time()
                sampler.run_once()
                passes[case].append(time.process_time() - c0)
                time.sleep(max(0.0, next_at - time.monotonic()))
        quiet = sum(passes["quiet"]) / len(passes["quiet"])
        busy = sum(passes["busy"]) / len(passes["busy"])
        print(
            f"sampler CPU per pass ({len(pids)} brokers, {args.topics} topics): quiet "
            f"{1000 * quiet:.1f} ms, busy {1000 * busy:.1f} ms (parse cache hits: "
            f"{sampler._parsed.hits}, answers of changes only: {sampler._parsed.deltas})"
        )
        brokers = len(pids)
        for label, cost in (
            ("exporter", costs["exporter"]),
            ("endpoint, full answers", costs["endpoint"]),
            ("now (endpoint, changes only)", costs["endpoint, changes only"]),
        ):
            print(
                f"{label}: scrapes {100 * cost * brokers:.1f}% + sampler {100 * busy:.1f}% "
                f"(busy) / {100 * quiet:.1f}% (quiet) of a core at a 1 s interval"
            )
        total = costs["endpoint, changes only"] * brokers + busy
        load = os.getloadavg()
        print(
            f"goal: sampler and exporters <= 5% of a core at {args.topics} topics: "
            f"{'met' if total <= 0.05 else 'NOT met'} ({100 * total:.1f}%, busy passes); "
            f"load average {load_before:.1f} before, {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} after ({os.cpu_count()} CPUs)"
        )
    finally:
        cell.down()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
