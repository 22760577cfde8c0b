"""Managed Connect, tenant side (issue 19), against the session's real cell, real Connect
workers and the test PostgreSQL (started with wal_level=logical by tests/plugins/services.py).

Everything a tenant does goes through the API (`/api/v1/clusters/{id}/connectors/…`) with the
team's token; the tenant's own Kafka clients use the tenant's key. The acceptance items of the
issue, by test: 1 CDC, 2 sink, 3 MirrorMaker 2, 4 isolation, 5 fault, 6 billing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import AccessKey, Connector, ConnectorTaskEvent
from console.services.teams import api_token_create
from fleet.kafka.errors import UnknownTopic
from fleet.services.connect_workers import connect_worker_pid, restart_crashed_connect_workers
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.connect.helpers import kill_worker, wait_for
from tests.fleet.kafka import gateway

pytestmark = pytest.mark.kafka

JSON = "org.apache.kafka.connect.json.JsonConverter"
STRING = "org.apache.kafka.connect.storage.StringConverter"
READY = 240  # a worker's first start, a plugin's first load, on a loaded 2-core machine


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def connect_home(tmp_path, settings):
    settings.SKIFF_CONNECT_HOME = Path(os.environ.get("SKIFF_TEST_CONNECT_HOME") or tmp_path)
    return settings.SKIFF_CONNECT_HOME


def api_for(member) -> APIClient:
    _, raw = api_token_create(user=member.user, team=member.team, name="connect")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


class Tenant:
    def __init__(self, cell, capture, prefix: str):
        self.member = new_member(prefix)
        self.cluster, self.key, self.secret = active_cluster(self.member, capture, name="main")
        self.api = api_for(self.member)
        self.kafka = as_key(cell, self.key.username, self.secret, timeout=20)
        self.base = f"/api/v1/clusters/{self.cluster.pk}/connectors/"

    def create(self, name: str, plugin: str, config: dict):
        return self.api.post(
            self.base, {"name": name, "plugin": plugin, "config": config}, format="json"
        )

    def status(self, name: str) -> dict:
        response = self.api.get(f"{self.base}{name}/")
        assert response.status_code == 200, response.content
        return response.json()

    def running(self, name: str) -> dict | None:
        body = self.last = self.status(name)
        tasks = body["tasks"]
        failed = [t for t in tasks if t["state"] == "FAILED"]
        assert not failed, f"task failed: {failed[0]['trace']}"
        ok = body["state"] == "RUNNING" and tasks and all(t["state"] == "RUNNING" for t in tasks)
        return body if ok else None

    def wait_running(self, name: str, timeout: float = 0) -> dict:
        try:
            return wait_for(
                lambda: self.running(name),
                timeout=timeout or READY,
                message=f"{name} is not RUNNING with all its tasks",
                interval=1,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last status: {getattr(self, 'last', None)}") from None

    def cleanup(self) -> None:
        for connector in Connector.objects.live().filter(cluster=self.cluster):
            self.api.delete(f"{self.base}{connector.name}/")


@pytest.fixture
def tenant(cell, connect_home, django_capture_on_commit_callbacks):
    made: list[Tenant] = []

    def make(prefix: str = "cn") -> Tenant:
        t = Tenant(cell, django_capture_on_commit_callbacks, prefix)
        made.append(t)
        return t

    yield make
    for t in made:
        t.cleanup()


@pytest.fixture
def pgdb():
    """A database of its own on the test PostgreSQL (the tenant's "external" database)."""
    db = settings.DATABASES["default"]
    name = f"ext_{uuid.uuid4().hex[:8]}"
    params = {
        "host": db["HOST"] or "127.0.0.1",
        "port": int(db["PORT"]),
        "user": db["USER"],
        "password": db["PASSWORD"],
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conn = psycopg.connect(dbname=name, autocommit=True, **params)
    yield {**params, "dbname": name, "conn": conn}
    conn.close()
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        for _attempt in range(20):
            slots = admin.execute(
                "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s",
                [name],
            ).fetchall()
            for _slot, pid in slots:
                if pid:
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            for slot, _pid in slots:
                with contextlib.suppress(psycopg.Error):
                    admin.execute("SELECT pg_drop_replication_slot(%s)", [slot])
            if not slots:
                break
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def jdbc_url(pg: dict) -> str:
    return f"jdbc:postgresql://{pg['host']}:{pg['port']}/{pg['dbname']}"


def sink_config(pg: dict, topic: str, table: str) -> dict:
    return {
        "topics": topic,
        "connection.url": jdbc_url(pg),
        "connection.username": pg["user"],
        "connection.password": pg["password"],
        "insert.mode": "upsert",
        "primary.key.mode": "record_value",
        "primary.key.fields": "id",
        "schema.evolution": "basic",
        "collection.name.format": table,
        "key.converter": STRING,
        "value.converter": JSON,
        "value.converter.schemas.enable": "true",
        "tasks.max": "1",
    }


ROW_SCHEMA = {
    "type": "struct",
    "name": "order",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int32", "optional": False},
        {"field": "item", "type": "string", "optional": False},
    ],
}


def rows(start: int, stop: int) -> list[tuple[bytes, bytes]]:
    return [
        (
            str(i).encode(),
            json.dumps({"schema": ROW_SCHEMA, "payload": {"id": i, "item": f"item-{i}"}}).encode(),
        )
        for i in range(start, stop)
    ]  # fmt: skip


def table_rows(pg: dict, table: str) -> list[tuple]:
    try:
        query = f'SELECT id, item FROM "{table}" ORDER BY id'  # noqa: S608  # our own name
        return pg["conn"].execute(query).fetchall()
    except psycopg.errors.UndefinedTable:
        return []


# --- 1: CDC end to end ----------------------------------------------------------------------------


# Creating a logical replication slot waits for every transaction of the PostgreSQL server that
# holds an xid, the test's own wrapping transaction too: this test commits as it goes.
@pytest.mark.django_db(transaction=True)
def test_cdc_from_postgres_into_the_tenants_prefixed_topics(tenant, pgdb, cell):
    t = tenant("cdc")
    pg = pgdb["conn"]
    pg.execute("CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty int)")
    pg.execute("ALTER TABLE orders REPLICA IDENTITY FULL")
    response = t.create(
        "orders-cdc",
        "postgres-cdc",
        {
            "database.hostname": pgdb["host"],
            "database.port": str(pgdb["port"]),
            "database.user": pgdb["user"],
            "database.password": pgdb["password"],
            "database.dbname": pgdb["dbname"],
            "topic.prefix": "cdc",
            "table.include.list": "public.orders",
            "plugin.name": "pgoutput",
            "publication.autocreate.mode": "filtered",
            "snapshot.mode": "no_data",
            "slot.drop.on.stop": "true",
            "key.converter": JSON,
            "key.converter.schemas.enable": "false",
            "value.converter": JSON,
            "value.converter.schemas.enable": "false",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret_keys"] == ["database.password"]
    assert "database.password" not in body["config"]
    assert pgdb["password"] not in json.dumps(body)
    t.wait_running("orders-cdc")
    # Logical decoding starts at the slot; the connector is RUNNING once it is streaming.
    pg.execute("INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 1), (3, 'fig', 7)")
    pg.execute("UPDATE orders SET qty = 4 WHERE id = 1")
    pg.execute("DELETE FROM orders WHERE id = 2")

    topic = f"{t.cluster.wire_prefix}cdc.public.orders"
    seen: list = []

    def events():
        try:
            got = gateway.consume(
                t.kafka, topic, group_id=f"{t.cluster.wire_prefix}reader", max_messages=100,
                timeout=10,
            )  # fmt: skip
        except UnknownTopic:  # made by the worker with the first event
            return False
        seen.extend(m for m in got if m.value is not None)  # a delete is followed by a tombstone
        return len(seen) >= 5

    wait_for(events, timeout=180, message=f"5 change events in {topic}", interval=1)
    ops = [json.loads(m.value)["op"] for m in seen]
    assert ops == ["c", "c", "c", "u", "d"]
    after = [json.loads(m.value)["after"] for m in seen]
    assert after[0] == {"id": 1, "item": "apple", "qty": 3}
    assert after[3] == {"id": 1, "item": "apple", "qty": 4}
    assert json.loads(seen[4].value)["before"]["id"] == 2
    # Every topic the connector (and its worker) made is inside the cluster's prefix.
    made = [n for n in gateway.list_topics(t.kafka) if "cdc" in n or "connect" in n]
    assert made and all(n.startswith(t.cluster.wire_prefix) for n in made), made
    # The worker's key is the platform's: not listed with the tenant's keys.
    keys = t.api.get(f"/api/v1/clusters/{t.cluster.pk}/keys/").json()["results"]
    assert [k["name"] for k in keys] == [t.key.name]
    platform_key = AccessKey.objects.get(cluster=t.cluster, platform_managed=True)
    assert t.api.get(f"/api/v1/clusters/{t.cluster.pk}/keys/{platform_key.pk}/").status_code == 404


# --- 2 and 5: JDBC sink, and a SIGKILLed worker ------------------------------------------------


def test_jdbc_sink_writes_every_record_and_survives_a_killed_worker(tenant, pgdb, cell):
    t = tenant("snk")
    prefix = t.cluster.wire_prefix
    gateway.create_topic(t.kafka, f"{prefix}orders", partitions=3)
    first, total = 300, 600
    assert gateway.produce(t.kafka, f"{prefix}orders", rows(0, first)) == first

    response = t.create("orders-sink", "jdbc-sink", sink_config(pgdb, "orders", "orders_sink"))
    assert response.status_code == 201, response.content
    t.wait_running("orders-sink")
    wait_for(
        lambda: len(table_rows(pgdb, "orders_sink")) == first,
        timeout=180,
        message=f"{first} rows in the sink table",
        interval=1,
    )
    # The sink's group is the platform's, inside the prefix.
    assert f"{prefix}connect-orders-sink" in gateway.list_consumer_groups(t.kafka)

    # 5: SIGKILL the worker; records produced while it is dead arrive after its restart.
    killed = kill_worker(prefix)
    assert gateway.produce(t.kafka, f"{prefix}orders", rows(first, total)) == total - first
    wait_for(
        lambda: restart_crashed_connect_workers() or connect_worker_pid(tenant_prefix=prefix),
        timeout=READY,
        message="the supervisor did not restart the killed worker",
        interval=1,
    )
    assert connect_worker_pid(tenant_prefix=prefix) not in (None, killed)
    wait_for(
        lambda: len(table_rows(pgdb, "orders_sink")) >= total,
        timeout=240,
        message=f"{total} rows in the sink table after the restart",
        interval=1,
    )
    got = table_rows(pgdb, "orders_sink")
    # 2: count and contents match what was produced; 5: nothing lost, nothing twice.
    assert got == [(i, f"item-{i}") for i in range(total)]
    assert pgdb["conn"].execute('SELECT count(*) FROM "orders_sink"').fetchone()[0] == total
    assert t.running("orders-sink")

    # Pause: no billed tasks; resume: back; the task-count history is the billing record.
    assert t.api.post(f"{t.base}orders-sink/pause/").status_code == 200
    wait_for(lambda: t.status("orders-sink")["state"] == "PAUSED", timeout=60, message="pause")
    assert t.api.post(f"{t.base}orders-sink/resume/").status_code == 200
    t.wait_running("orders-sink", timeout=180)
    tasks = list(
        ConnectorTaskEvent.objects.filter(connector__name="orders-sink", cluster=t.cluster)
        .order_by("occurred_at", "id")
        .values_list("tasks", flat=True)
    )
    assert tasks[0] == 1 and 0 in tasks and tasks[-1] == 1, tasks

    # Delete: off the worker, the worker stopped (its last connector), its key revoked.
    assert t.api.delete(f"{t.base}orders-sink/").status_code == 204
    assert connect_worker_pid(tenant_prefix=prefix) is None
    assert not AccessKey.objects.filter(
        cluster=t.cluster, platform_managed=True, revoked_at__isnull=True
    ).exists()
    wait_for(
        lambda: f"{prefix}connect-configs" not in gateway.list_topics(t.kafka),
        timeout=30,
        message="the worker's internal topics are deleted with its last connector",
    )


# --- 3: MirrorMaker 2 between two tenants' clusters ---------------------------------------------


def test_mirror_maker_replicates_a_topic_from_another_tenants_cluster(tenant, cell):
    source, target = tenant("mma"), tenant("mmb")
    topic = f"{source.cluster.wire_prefix}events"
    gateway.create_topic(source.kafka, topic, partitions=2)
    count = 500
    messages = [f"event-{i}".encode() for i in range(count)]
    assert gateway.produce(source.kafka, topic, messages) == count

    response = target.create(
        "from-a",
        "mirror-source",
        {
            "source.cluster.alias": "a",
            "source.cluster.bootstrap.servers": cell.bootstrap_servers,
            "source.cluster.sasl.username": source.key.username,
            "source.cluster.sasl.password": source.secret,
            "source.cluster.ssl.truststore.certificates": Path(cell.ca_path).read_text(),
            "topics": topic.replace(".", "\\."),
            "tasks.max": "2",
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["secret_keys"] == ["source.cluster.sasl.password"]
    replicated = f"{target.cluster.wire_prefix}a.{topic}"

    def caught_up():
        listed = gateway.list_topics(target.kafka)
        if replicated not in listed:
            return False
        keys = [(replicated, p.id) for p in listed[replicated].partitions]
        offsets = gateway.list_partition_offsets(target.kafka, keys)
        return sum(o.messages for o in offsets.values()) >= count

    wait_for(caught_up, timeout=READY, message=f"{count} messages replicated to {replicated}")
    got = gateway.consume(
        target.kafka, replicated, group_id=f"{target.cluster.wire_prefix}check", max_messages=2000
    )
    assert sorted(m.value for m in got) == sorted(messages)


# --- 4: isolation ------------------------------------------------------------------------------


def test_isolation_refusals_happen_before_any_worker(tenant, pgdb, cell):
    a, b = tenant("isa"), tenant("isb")
    base = sink_config(pgdb, "orders", "t")
    cases = {
        "a topic outside the prefix (a wire name)": (
            "jdbc-sink", {**base, "topics": f"{a.cluster.wire_prefix}orders"}, "topics"),
        "another tenant's topic": (
            "jdbc-sink", {**base, "topics": f"{b.cluster.wire_prefix}orders"}, "topics"),
        "consumer.override.sasl.jaas.config": (
            "jdbc-sink", {**base, "consumer.override.sasl.jaas.config": "x"},
            "consumer.override.sasl.jaas.config"),
        "a group.id outside the prefix": (
            "jdbc-sink", {**base, "consumer.override.group.id": "elsewhere"},
            "consumer.override.group.id"),
        "a FileStream plugin": ("file-stream", {"file": "/etc/passwd", "topic": "x"}, "plugin"),
        "a FileStream class": (
            "jdbc-sink",
            {**base, "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector"},
            "connector.class"),
        "a config provider reading the worker's files": (
            "jdbc-sink", {**base, "connection.password": "${file:/etc/passwd:x}"},
            "connection.password"),
    }  # fmt: skip
    for what, (plugin, config, field) in cases.items():
        for path in ("", "validate/"):
            body = {"name": "bad", "plugin": plugin, "config": config}
            response = a.api.post(a.base + path, body, format="json")
            assert response.status_code == 400, (what, path, response.content)
            assert field in response.json(), (what, response.json())
    # Refused before any worker: none was started for the cluster.
    assert connect_worker_pid(tenant_prefix=a.cluster.wire_prefix) is None
    assert not Connector.objects.filter(cluster=a.cluster).exists()

    # No route of the console reaches a worker's REST API: Connect's paths are 404 here.
    for path in ("connector-plugins", "connectors/x/status", "x/tasks/0/restart", "admin/loggers"):
        assert a.api.get(a.base + path + "/").status_code == 404, path
    routes = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                routes.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    connect_routes = [r for r in routes if "connectors" in r and r.startswith("api/")]
    assert connect_routes and all(
        r.rstrip("/").rsplit("/", 1)[-1] in
        ("connectors", "plugins", "validate", "<str:name>", "config", "pause", "resume",
         "restart")
        for r in connect_routes
    ), connect_routes  # fmt: skip


# --- 6: task-hours on the draft invoice ---------------------------------------------------------


def test_task_hours_appear_on_the_draft_invoice_at_the_price_book_rate(tenant, pgdb, cell):
    from billing.models import Meter
    from billing.services.invoices import recompute_draft
    from billing.services.price_book import PriceBook

    t = tenant("bil")
    gateway.create_topic(t.kafka, f"{t.cluster.wire_prefix}orders", partitions=1)
    config = {**sink_config(pgdb, "orders", "billed"), "tasks.max": "2"}
    response = t.create("billed", "jdbc-sink", config)
    assert response.status_code == 201, response.content
    t.wait_running("billed")
    # The connector runs two tasks (tasks.max=2, one partition: Connect still makes 2 tasks?)
    status = t.status("billed")
    running = sum(task["state"] == "RUNNING" for task in status["tasks"])
    connector = Connector.objects.get(cluster=t.cluster, name="billed")
    assert connector.billed_tasks == running
    # Move its history back three hours (the cluster's activation too), as if it had run.
    shift = dt.timedelta(hours=3)
    ConnectorTaskEvent.objects.filter(connector=connector).update(
        occurred_at=timezone.now() - shift
    )
    t.cluster.events.update(occurred_at=timezone.now() - shift - dt.timedelta(minutes=5))
    now = timezone.now()
    period = now.date().replace(day=1)
    if (now - shift).month != now.month:
        pytest.skip("three hours back is last month: the draft of this month would not have all")
    invoice = recompute_draft(t.member.team, period, as_of=now)
    line = invoice.lines.get(meter=Meter.CONNECTOR_HOURS)
    price = PriceBook.load().at(Meter.CONNECTOR_HOURS, now).unit_price
    assert price == Decimal("0.11")
    assert line.unit_price == price
    assert abs(line.quantity - Decimal(3 * running)) < Decimal("0.01"), line.quantity
    assert line.amount == (line.quantity * price).quantize(Decimal("0.01"))
