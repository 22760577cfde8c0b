"""Benchmark: managed connectors (issue 19) — create → first record delivered, sink throughput.

Starts a throwaway local cell, an embedded console (SQLite, in-process tasks) and a throwaway
PostgreSQL in a temp dir; makes a team, a cluster and a topic of `--rows` JSON records through
the API and the tenant's key. Then:

1. **create → first record delivered**: `POST /api/v1/clusters/{id}/connectors/` of a JDBC sink
   until its first row is in the PostgreSQL table — cold (the cluster's first connector: the
   worker starts) and warm (a second connector on the running worker);
2. **sink throughput**: the warm sink's rows per second (first row → last row), against the
   baseline of a plain consumer with the tenant's key writing the same rows to the same database
   (confluent-kafka consumer, `executemany` per poll batch, one commit per batch), as a ratio.

    .venv/bin/python bench/connect.py [--rows 20000] [--nodes 1]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMA = {
    "type": "struct",
    "name": "row",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int32", "optional": False},
        {"field": "item", "type": "string", "optional": False},
    ],
}


def records(count: int) -> list[tuple[bytes, bytes]]:
    return [
        (
            str(i).encode(),
            json.dumps({"schema": SCHEMA, "payload": {"id": i, "item": f"item-{i}"}}).encode(),
        )
        for i in range(count)
    ]


def wait(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--nodes", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="skiff-bench-connect-"))
    work.chmod(0o755)  # PostgreSQL runs as its own user when this runs as root
    from tests.plugins.services import Postgres, find_pg_bindir

    pgdir = work / "pg"
    pgdir.mkdir()
    postgres = Postgres(bindir=find_pg_bindir(), tmpdir=pgdir)
    postgres.start()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SKIFF_HOME": str(work / "home"),
            "SQLITE_PATH": str(work / "bench.sqlite3"),
            "SKIFF_TASKS_INLINE": "1",
            "SKIFF_CONNECT_HOME": str(work / "connect"),
            # This machine is shared and loaded: the cell's answers may take a while.
            "SKIFF_KAFKA_TIMEOUT": os.environ.get("SKIFF_KAFKA_TIMEOUT", "60"),
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    import psycopg
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from console.models import User
    from console.services.teams import api_token_create, team_create, user_create
    from fleet.services.cells import fleet_down, fleet_up
    from tests.clusters.access_helpers import as_key
    from tests.fleet.kafka import gateway
    from tests.plugins.services import PG_DB_NAME, PG_USER

    call_command("migrate", verbosity=0)
    cell = fleet_up(name="bench-connect", nodes=args.nodes)
    db = psycopg.connect(
        host="127.0.0.1", port=postgres.port, user=PG_USER, password=postgres.password,
        dbname=PG_DB_NAME, autocommit=True,
    )  # fmt: skip
    try:
        user = user_create(email="bench@example.com", password="bench-Passw0rd!", validate=False)
        team = team_create(name="Bench", slug="bench", owner=user)
        _, token = api_token_create(user=User.objects.get(pk=user.pk), team=team, name="bench")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        created = api.post(
            "/api/v1/clusters/", {"name": "c", "access": {"policy_template": "admin"}},
            format="json",
        ).json()  # fmt: skip
        cluster_id, key = created["id"], created["initial_key"]
        assert api.get(f"/api/v1/clusters/{cluster_id}/").json()["state"] == "ACTIVE"
        prefix = "bench.c."
        tenant = as_key(cell, key["username"], key["secret"], timeout=60)
        gateway.create_topic(tenant, f"{prefix}rows", partitions=3)
        rows = records(args.rows)
        t0 = time.perf_counter()
        gateway.produce(tenant, f"{prefix}rows", rows)
        print(f"produced {args.rows} records in {time.perf_counter() - t0:.1f} s")

        def sink(name: str, table: str) -> dict:
            return {
                "name": name,
                "plugin": "jdbc-sink",
                "config": {
                    "topics": "rows",
                    "connection.url": f"jdbc:postgresql://127.0.0.1:{postgres.port}/{PG_DB_NAME}",
                    "connection.username": PG_USER,
                    "connection.password": postgres.password,
                    "insert.mode": "insert",
                    "primary.key.mode": "none",
                    "schema.evolution": "basic",
                    "collection.name.format": table,
                    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                    "value.converter.schemas.enable": "true",
                    "tasks.max": "3",
                },
            }

        def count(table: str) -> int:
            try:
                return db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            except psycopg.errors.UndefinedTable:
                return 0

        base = f"/api/v1/clusters/{cluster_id}/connectors/"
        results = {}
        for label, name in (("cold (worker starts)", "first"), ("warm (worker running)", "second")):
            table = f"sink_{name}"
            started = time.perf_counter()
            response = api.post(base, sink(name, table), format="json")
            assert response.status_code == 201, response.content
            answered = time.perf_counter() - started
            wait(lambda t=table: count(t) > 0, 600, f"the first row of {name}")
            first = time.perf_counter()
            wait(lambda t=table: count(t) >= args.rows, 1200, f"all rows of {name}", 0.02)
            last = time.perf_counter()
            results[name] = (first - started, args.rows / (last - first))
            print(
                f"{label}: create answered in {answered:.1f} s, first record delivered "
                f"{first - started:.1f} s after create; {args.rows} rows in "
                f"{last - first:.1f} s = {args.rows / (last - first):.0f} rows/s"
            )

        # Baseline: a plain consumer with the tenant's key writing the same rows.
        from confluent_kafka import Consumer

        db.execute("CREATE TABLE plain (id int NOT NULL, item text NOT NULL)")
        conf = {
            "bootstrap.servers": cell.bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": key["username"],
            "sasl.password": key["secret"],
            "ssl.ca.location": cell.ca_path,
            "group.id": f"{prefix}plain",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
        consumer = Consumer(conf)
        consumer.subscribe([f"{prefix}rows"])
        written = 0
        started = time.perf_counter()
        with psycopg.connect(
            host="127.0.0.1", port=postgres.port, user=PG_USER, password=postgres.password,
            dbname=PG_DB_NAME,
        ) as writer:  # fmt: skip
            while written < args.rows:
                batch = consumer.consume(num_messages=500, timeout=1.0)
                values = [
                    (p["id"], p["item"])
                    for m in batch
                    if not m.error()
                    for p in [json.loads(m.value())["payload"]]
                ]
                if values:
                    with writer.cursor() as cursor:
                        cursor.executemany("INSERT INTO plain VALUES (%s, %s)", values)
                    writer.commit()
                    consumer.commit(asynchronous=False)
                    written += len(values)
                if time.perf_counter() - started > 1200:
                    raise SystemExit("the plain consumer did not finish in 1200 s")
        plain = args.rows / (time.perf_counter() - started)
        consumer.close()
        sink_rate = results["second"][1]
        print(f"plain consumer + executemany: {plain:.0f} rows/s")
        print(f"sink / plain consumer: {sink_rate / plain:.2f}x")
        print(
            f"create -> first record delivered: cold {results['first'][0]:.1f} s, "
            f"warm {results['second'][0]:.1f} s"
        )
        for name in ("first", "second"):
            api.delete(f"{base}{name}/")
    finally:
        db.close()
        fleet_down(name="bench-connect")
        postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
