"""Benchmark: create → ACTIVE latency of serverless clusters through the API.

Starts a throwaway 3-node local cell and an embedded console (SQLite, in-process tasks) in a
temp dir, then runs N sequential `POST /api/v1/clusters/` calls and prints p50/p95/max. As the
baseline, measured in the same run, it times one admin round trip to the cell
(`describe_cluster`: a fresh TLS + SCRAM connection and one request) and prints the ratio, so
the number says how many round-trip-equivalents a provisioning costs on this machine.

    .venv/bin/python bench/cluster_create.py [--count 20] [--nodes 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SKIFF_HOME": str(work / "home"),
            "SQLITE_PATH": str(work / "bench.sqlite3"),
            "SKIFF_TASKS_INLINE": "1",
            "SKIFF_MAX_CLUSTERS_PER_TEAM": str(args.count + 1),
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from console.models import User
    from console.services.teams import api_token_create, team_create, user_create
    from fleet.services.cells import cell_admin_connection, fleet_down, fleet_up
    from tests.fleet.kafka import gateway

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    cell = fleet_up(name="bench", nodes=args.nodes)
    print(f"cell of {args.nodes} node(s) ready in {time.perf_counter() - started:.1f} s")
    try:
        user = user_create(email="bench@example.com", password="bench-Passw0rd!", validate=False)
        team = team_create(name="Bench", slug="bench", owner=user)
        _, token = api_token_create(user=User.objects.get(pk=user.pk), team=team, name="bench")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        conn = cell_admin_connection(cell)
        gateway.describe_cluster(conn)  # warm-up
        round_trips = []
        for _ in range(args.count):
            t0 = time.perf_counter()
            gateway.describe_cluster(conn)
            round_trips.append(time.perf_counter() - t0)

        latencies = []
        for i in range(args.count):
            t0 = time.perf_counter()
            response = api.post("/api/v1/clusters/", {"name": f"c{i}"}, format="json")
            cluster_id = response.json()["id"]
            state = api.get(f"/api/v1/clusters/{cluster_id}/").json()["state"]
            latencies.append(time.perf_counter() - t0)
            if state != "ACTIVE":
                print(f"cluster c{i} ended {state}", file=sys.stderr)
                return 1

        baseline = statistics.median(round_trips)
        p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
        print(f"admin round trip (baseline): p50 {baseline * 1000:.0f} ms")
        print(
            f"create -> ACTIVE over {args.count} sequential API creates: "
            f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        print(f"ratio p95 / round trip: {p95 / baseline:.1f}x")
        print(f"goal p95 <= 1000 ms: {'met' if p95 <= 1.0 else 'NOT met'}")
    finally:
        fleet_down(name="bench")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
