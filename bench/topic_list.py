"""Benchmark: the topic and consumer-group lists of a cluster at its limit, with no cold pages.

Starts (or reuses, with --home/--cell) a local 3-node cell and an embedded console (SQLite,
in-process tasks) in a temp dir, creates one serverless cluster, creates 2,400 single-partition
topics in its namespace in batches over the admin connection (as a tenant's own tooling would),
imports them with the topic sync, and gives 500 consumer groups committed offsets. Each list is
viewed once (the very first view reads the cell: reported on its own), then the background
refresh runs as the embedded scheduler runs it (`refresh_lists` every 5 s, in a thread) through
--idle seconds (default 600: ten minutes) with no request at all. Then it times the first
request of each list after the idle, and --requests rounds of in-process requests (server time:
Django's handler, no network) to the list APIs and pages (the group page shows 50 groups at
a time) — paging, searching and sorting — and prints p50/p95/max, the number of requests that
read the cell (goal: none), and each goal (p95 <= 150 ms) as met or not with the load average.

    .venv/bin/python bench/topic_list.py [--topics 2400] [--groups 500] [--idle 600]
                                         [--requests 60] [--heap-mb 1024]
                                         [--home DIR --cell NAME]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import percentile  # noqa: E402


def report(label: str, samples: list[float]) -> float:
    p50, p95 = percentile(samples, 0.50), percentile(samples, 0.95)
    print(
        f"{label}: n={len(samples)} p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms, mean {statistics.mean(samples) * 1000:.1f} ms"
    )
    return p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=2400)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--idle", type=float, default=600.0, help="seconds without requests")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--home", help="reuse this SKIFF_HOME (a running local cell)")
    parser.add_argument("--cell", default="bench-topics")
    # 2,400 partitions x RF 3 = 7,200 replicas: the test cells' 256 MB heap runs out of memory.
    parser.add_argument("--heap-mb", type=int, default=1024)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-topics-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SKIFF_HOME": args.home or str(work / "home"),
            "SQLITE_PATH": str(work / "bench.sqlite3"),
            "SKIFF_TASKS_INLINE": "1",
            "SKIFF_KAFKA_TIMEOUT": "60",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.test import APIClient

    from clusters.models import Cluster, Topic
    from clusters.services import consumer_groups, list_cache, topics
    from clusters.services.list_refresh import refresh_lists
    from clusters.services.topic_sync import sync_all_topics
    from console.models import User
    from console.services.teams import api_token_create, team_create, user_create
    from fleet.services.cells import cell_admin_connection, fleet_down, fleet_up
    from tests.fleet.kafka import gateway

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    cell = fleet_up(name=args.cell, nodes=3, heap_mb=args.heap_mb)
    print(f"cell ready in {time.perf_counter() - started:.1f} s")
    try:
        user = user_create(email="bench@topics.example", password="bench-Passw0rd!", validate=False)
        team = team_create(name="Bench", slug="bench", owner=user)
        user = User.objects.get(pk=user.pk)
        _, token = api_token_create(user=user, team=team, name="bench")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = api.post("/api/v1/clusters/", {"name": "topics"}, format="json")
        cluster = Cluster.objects.get(pk=response.json()["id"])
        assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
        prefix = cluster.wire_prefix

        conn = cell_admin_connection(cell)
        names = [f"{prefix}t{i:05d}" for i in range(args.topics)]
        started = time.perf_counter()
        for start in range(0, len(names), args.batch):
            batch = names[start : start + args.batch]
            results = gateway.create_topics(conn, [(n, 1, {}) for n in batch], timeout=120)
            failed = {
                n: e
                for n, e in results.items()
                if e is not None and not isinstance(e, gateway.TopicAlreadyExists)
            }
            if failed:
                print(f"{len(failed)} topics failed, e.g. {next(iter(failed.values()))}")
                return 1
        while True:
            present = sum(1 for n in gateway.list_topics(conn) if n.startswith(prefix))
            if present >= len(names):
                break
            time.sleep(1)
        print(f"{len(names)} topics created in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        sync_all_topics()
        print(
            f"topic sync imported {Topic.objects.filter(cluster=cluster).count()} topics in "
            f"{time.perf_counter() - started:.1f} s"
        )
        topics.invalidate_topic_cache()

        started = time.perf_counter()
        group_names = [f"{prefix}g{i:04d}" for i in range(args.groups)]

        def commit(i: int) -> None:
            gateway.commit_group_offsets(conn, group_names[i], {(names[i % len(names)], 0): 0})

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(commit, range(len(group_names))))
        print(
            f"{len(group_names)} consumer groups given offsets in "
            f"{time.perf_counter() - started:.1f} s"
        )

        page_client = Client()
        page_client.force_login(user)
        base_api = f"/api/v1/clusters/{cluster.pk}/topics/"
        base_page = f"/clusters/{cluster.pk}/topics/"
        groups_api = f"/api/v1/clusters/{cluster.pk}/consumer-groups/"
        groups_page = f"/clusters/{cluster.pk}/consumer-groups/"

        # The very first view of each list: nothing stored yet, so it reads the cell.
        for label, url, expected in (
            ("topic list API", base_api, args.topics),
            ("consumer-group list API", groups_api, args.groups),
        ):
            t0 = time.perf_counter()
            first = api.get(url)
            ms = (time.perf_counter() - t0) * 1000
            assert first.status_code == 200, first.content[:300]
            if first.json()["count"] != expected:
                print(f"the {label} shows {first.json()['count']} rows, expected {expected}")
                return 1
            print(f"very first view, {label} (reads the cell; never again): {ms:.0f} ms")
        # The pages once too, as a running console has shown them before: the first render in a
        # process compiles the templates (about 150 ms of CPU), a cost of its start, not of idling.
        for url in (base_page, groups_page):
            assert page_client.get(url).status_code == 200

        # The background refresh, as the embedded scheduler runs it, through the idle period.
        stop = threading.Event()
        refreshes: list[float] = []

        def refresher() -> None:
            from django.db import close_old_connections

            while not stop.is_set():
                t0 = time.perf_counter()
                done = refresh_lists()
                if done.refreshed:
                    refreshes.append(time.perf_counter() - t0)
                close_old_connections()
                stop.wait(5.0)

        thread = threading.Thread(target=refresher, name="bench-refresh", daemon=True)
        thread.start()
        cold_before = dict(list_cache.cold_reads)
        load_idle = []
        print(f"idle for {args.idle:.0f} s (no request; the background refresh runs)…")
        idle_end = time.monotonic() + args.idle
        idle_cpu = time.process_time()
        while time.monotonic() < idle_end:
            time.sleep(min(30.0, max(0.0, idle_end - time.monotonic())))
            load_idle.append(os.getloadavg()[0])
        # Every thread of the process (the refresh and the Kafka client's I/O thread) while no
        # request ran: the CPU the background takes from requests in the embedded topology.
        idle_cpu = time.process_time() - idle_cpu
        idle_refreshes = len(refreshes)
        print(
            f"console process CPU during the idle: {idle_cpu:.1f} s over {args.idle:.0f} s, "
            f"{idle_refreshes} refreshes of both lists: "
            f"{idle_cpu / max(1, idle_refreshes) * 1000:.0f} ms of CPU per refresh"
        )

        walls: dict[str, list[float]] = {
            k: [] for k in ("api", "page", "fragment", "gapi", "gpage", "gfragment")
        }
        cpus: dict[str, list[float]] = {k: [] for k in walls}

        def timed(kind, call):
            w0, c0 = time.perf_counter(), time.thread_time()
            response = call()
            cpus[kind].append(time.thread_time() - c0)
            walls[kind].append(time.perf_counter() - w0)
            assert response.status_code == 200, response.content[:300]

        # The first request of each list after the idle period.
        timed("api", lambda: api.get(base_api))
        timed("page", lambda: page_client.get(base_page))
        timed("gapi", lambda: api.get(groups_api))
        timed("gpage", lambda: page_client.get(groups_page))
        firsts = {k: walls[k][0] for k in ("api", "page", "gapi", "gpage")}
        print(
            f"first request after {args.idle:.0f} s idle: topic API {firsts['api'] * 1000:.0f} ms, "
            f"topic page {firsts['page'] * 1000:.0f} ms, group API {firsts['gapi'] * 1000:.0f} ms, "
            f"group page {firsts['gpage'] * 1000:.0f} ms"
        )

        variants = [
            "",
            "?page=7",
            "?ordering=-size",
            "?ordering=-messages&page=3",
            "?search=t0012",
            "?ordering=partitions&page=48",
            "?search=t02&ordering=-name",
        ]
        # The API pages with limit/offset, the page 50 groups at a time (page, search, sort).
        group_variants = [
            ("", ""),
            ("?search=g01", "?search=g01"),
            ("?offset=450", "?page=10"),
            ("?ordering=-lag&offset=100", "?ordering=-lag&page=3"),
            ("?search=g0499", "?search=g04&ordering=state"),
            ("?ordering=members", "?ordering=-members&page=7"),
        ]
        for i in range(args.requests):
            query = variants[i % len(variants)]
            timed("api", lambda q=query: api.get(base_api + q))
            timed("page", lambda q=query: page_client.get(base_page + q))
            timed(
                "fragment", lambda q=query: page_client.get(base_page + q, HTTP_HX_REQUEST="true")
            )
            gquery, gpage_query = group_variants[i % len(group_variants)]
            timed("gapi", lambda q=gquery: api.get(groups_api + q))
            timed("gpage", lambda q=gpage_query: page_client.get(groups_page + q))
            timed(
                "gfragment",
                lambda q=gpage_query: page_client.get(groups_page + q, HTTP_HX_REQUEST="true"),
            )
            time.sleep(0.25)  # spread over the background refresh, like real users
        stop.set()
        thread.join(120)
        cold_requests = sum(list_cache.cold_reads.values()) - sum(cold_before.values())
        print(
            f"{args.requests} rounds after the first (topics: {len(variants)} query variants, "
            f"groups: {len(group_variants)}); every sample includes the first after the idle:"
        )
        labels = {
            "api": "topic list API",
            "page": "topic list page (full)",
            "fragment": "topic list page (htmx)",
            "gapi": "consumer-group list API",
            "gpage": "consumer-group list page (full, 50 a page)",
            "gfragment": "consumer-group list page (htmx)",
        }
        wall_p95 = {k: report(f"{labels[k]}, wall", walls[k]) for k in labels}
        for k in labels:
            report(f"{labels[k]}, CPU of the request", cpus[k])
        if refreshes:
            report("background refresh of both lists (not in any request)", refreshes)
        print(f"requests that read the cell (cold reads) after the first views: {cold_requests}")
        load = os.getloadavg()
        print(
            f"load average: {max(load_idle, default=load[0]):.1f} highest during the idle, "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end, "
            f"on {os.cpu_count()} cores"
        )
        topic_worst = max(wall_p95["api"], wall_p95["page"], wall_p95["fragment"])
        group_worst = max(wall_p95["gapi"], wall_p95["gpage"], wall_p95["gfragment"])
        for name, worst, first in (
            (
                f"topic list at {args.topics} topics",
                topic_worst,
                max(firsts["api"], firsts["page"]),
            ),
            (
                f"consumer-group list at {args.groups} groups",
                group_worst,
                max(firsts["gapi"], firsts["gpage"]),
            ),
        ):
            ok = worst <= 0.150 and first <= 0.150 and cold_requests == 0
            print(
                f"goal: {name}, first request after {args.idle:.0f} s idle and p95 <= 150 ms, "
                f"no bulk read in a request: {'met' if ok else 'NOT met'} "
                f"(first {first * 1000:.0f} ms, p95 {worst * 1000:.0f} ms, "
                f"load {load[0]:.1f})"
            )

        started = time.perf_counter()
        snapshot = topics.read_topic_snapshot(topics.cluster_gateway(cluster))
        print(
            f"one bulk read of {len(snapshot.rows)} topics (metadata + offsets + log dirs), "
            f"as the background does it: {(time.perf_counter() - started) * 1000:.0f} ms"
        )
        started = time.perf_counter()
        gsnap = consumer_groups.read_group_snapshot(consumer_groups._gateway(cluster))
        print(
            f"one bulk read of {len(gsnap.rows)} consumer groups, as the background does it: "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
    finally:
        if not args.home:
            fleet_down(name=args.cell)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
