"""Benchmark: CPU per request of the topic and consumer-group lists, and of storing a refresh.

No Kafka cell: the lists are served from their stored snapshots (clusters/services/list_cache.py)
and never read the cell in a request, so this puts snapshots of the same shape as a real read
(--topics rows with sizes per partition, --groups groups) in the `lists` cache of an embedded
console (SQLite, memory cache) and times requests through Django's test client: the CPU time of
the requesting thread per request, which a loaded machine does not inflate as it does wall time.
It also times the CPU-heavy part of a background refresh that stays in Python: storing the
snapshot (`snapshot_put`), once changed and once unchanged.

    .venv/bin/python bench/list_cpu.py [--topics 2400] [--groups 500] [--requests 40]
                                       [--minutes 5]
                                       [--profile API|PAGE]

--profile runs cProfile over the requests of one list and prints the top functions (API and
PAGE: e.g. `groups-page`, `topics-api`).
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=2400)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--minutes", type=int, default=5, help="minutes of usage rows per topic")
    parser.add_argument("--profile", help="topics-api, topics-page, groups-api or groups-page")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-listcpu-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SKIFF_HOME": str(work / "home"),
            "SQLITE_PATH": str(work / "bench.sqlite3"),
            "SKIFF_TASKS_INLINE": "1",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from rest_framework.test import APIClient

    from clusters.models import Cluster, Topic
    from clusters.services import list_cache
    from clusters.services.consumer_groups import GroupRow, GroupSnapshot
    from clusters.services.topics import TopicRow, TopicSnapshot
    from console.models import User
    from console.services.teams import api_token_create, team_create, user_create
    from fleet.models import Cell, TopicMinuteUsage

    call_command("migrate", verbosity=0)
    user = user_create(email="bench@cpu.example", password="bench-Passw0rd!", validate=False)
    team = team_create(name="Bench", slug="bench", owner=user)
    user = User.objects.get(pk=user.pk)
    _, token = api_token_create(user=user, team=team, name="bench")
    cell = Cell.objects.create(
        name="bench", bootstrap_servers="127.0.0.1:1", credentials_path="-", ca_path="-"
    )
    cluster = Cluster.objects.create(team=team, name="lists", cell=cell, state=Cluster.State.ACTIVE)
    now = timezone.now()
    names = [f"t{i:05d}" for i in range(args.topics)]
    Topic.objects.bulk_create(
        Topic(cluster=cluster, name=n, partitions=1, replication_factor=3, created_at=now)
        for n in names
    )
    # What the sampler writes: a row per topic per minute (bytes in/out); the page shows the
    # last complete minute's rates.
    minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    TopicMinuteUsage.objects.bulk_create(
        TopicMinuteUsage(
            cluster=cluster,
            topic=n,
            minute=minute - timedelta(minutes=back),
            bytes_in=i * 60,
            bytes_out=i * 30,
        )
        for back in range(args.minutes)
        for i, n in enumerate(names)
    )
    rows = {
        n: TopicRow(
            name=n,
            partitions=1,
            replication_factor=3,
            size_bytes=i * 37,
            messages=i * 11,
            under_replicated=0,
        )
        for i, n in enumerate(names)
    }
    sizes = {(n, 0): {1: i * 37, 2: i * 37, 3: i * 37} for i, n in enumerate(names)}

    def topic_snapshot() -> TopicSnapshot:
        return TopicSnapshot(time.time(), dict(rows), False, sizes, time.time(), now, now)

    def group_snapshot() -> GroupSnapshot:
        return GroupSnapshot(
            tuple(
                GroupRow(
                    group=f"g{i:04d}",
                    state="EMPTY" if i % 3 else "STABLE",
                    members=i % 3,
                    topics=[names[i % len(names)]],
                    lag=(i * 7) % 1000,
                )
                for i in range(args.groups)
            ),
            timezone.now(),
        )

    list_cache.snapshot_put("topics", cluster.pk, topic_snapshot(), started=time.time())
    list_cache.snapshot_put("groups", cluster.pk, group_snapshot(), started=time.time())

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    page = Client()
    page.force_login(user)
    lists = {
        "topics-api": (api, f"/api/v1/clusters/{cluster.pk}/topics/", {}),
        "topics-page": (page, f"/clusters/{cluster.pk}/topics/", {}),
        "topics-fragment": (page, f"/clusters/{cluster.pk}/topics/", {"HTTP_HX_REQUEST": "true"}),
        "groups-api": (api, f"/api/v1/clusters/{cluster.pk}/consumer-groups/", {}),
        "groups-page": (page, f"/clusters/{cluster.pk}/consumer-groups/", {}),
        "groups-fragment": (
            page,
            f"/clusters/{cluster.pk}/consumer-groups/",
            {"HTTP_HX_REQUEST": "true"},
        ),
    }
    variants = {
        "topics": ["", "?page=7", "?ordering=-size", "?search=t0012", "?ordering=-messages"],
        "groups": ["", "?search=g01", "?ordering=-lag", "?page=5", "?ordering=state&page=2"],
    }

    def run(kind: str, n: int) -> list[float]:
        client, url, extra = lists[kind]
        queries = variants[kind.split("-")[0]]
        cpu = []
        for i in range(n):
            c0 = time.thread_time()
            response = client.get(url + queries[i % len(queries)], **extra)
            cpu.append(time.thread_time() - c0)
            assert response.status_code == 200, (kind, response.status_code, response.content[:300])
        return cpu

    for kind in lists:
        run(kind, 2)  # warm: imports, template loading, the process's memo of the snapshot
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(args.profile, args.requests)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0

    print(
        f"CPU per request at {args.topics} topics / {args.groups} groups, {args.requests} "
        "requests each (stored snapshot, no cell):"
    )
    for kind in lists:
        cpu = run(kind, args.requests)
        # Python function calls per request: what the CPU time measures, immune to the load.
        profiler = cProfile.Profile()
        profiler.enable()
        run(kind, 10)
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls / 10  # type: ignore[attr-defined]
        print(
            f"  {kind:16s} p50 {percentile(cpu, 0.5) * 1000:6.1f} ms  "
            f"p95 {percentile(cpu, 0.95) * 1000:6.1f} ms  min {min(cpu) * 1000:6.1f} ms  "
            f"{calls:8,.0f} calls"
        )

    # The refresh's own Python work after the cell answered: storing what it read.
    for label, make in (("topics", topic_snapshot), ("groups", group_snapshot)):
        stored = list_cache.snapshot_get(label, cluster.pk)  # type: ignore[arg-type]
        assert stored is not None
        for case in ("unchanged", "changed"):
            cpu = []
            for _ in range(10):
                snap = make()
                if case == "changed" and label == "topics":
                    first = next(iter(snap.rows))
                    snap.rows[first] = TopicRow(**{**snap.rows[first].__dict__, "messages": -1})
                elif case == "changed":
                    snap = GroupSnapshot(snap.rows[1:], snap.read_at + timedelta(seconds=1))
                c0 = time.thread_time()
                list_cache.snapshot_put(label, cluster.pk, snap, started=time.time())  # type: ignore[arg-type]
                list_cache.snapshot_get(label, cluster.pk)  # type: ignore[arg-type]
                cpu.append(time.thread_time() - c0)
            print(
                f"  storing a {case} {label} snapshot (refresh): "
                f"p50 {percentile(cpu, 0.5) * 1000:.1f} ms CPU"
            )
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
