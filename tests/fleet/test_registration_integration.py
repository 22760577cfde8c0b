"""Registering an existing Kafka as a cell (issue 14, acceptance 6), on real 1-node cells.

A LocalCell started here stands for a Kafka the platform does not run (a Strimzi cluster, say):
it is registered through the API as an *external* cell, with its admin SCRAM credential, its CA
and its metrics endpoint, and then serves a tenant end to end (cluster created on it, produce,
consume, live throughput, usage rows). A second one, started with
allow.everyone.if.no.acl.found=true, is refused with that reason and recorded nowhere.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import stat
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from clusters.models import Cluster
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import AuditEvent
from fleet.models import Broker, Cell, TopicMinuteUsage
from fleet.runtime.launcher import CellError, CellInfo, LocalCell
from fleet.services.sampler import Sampler
from tests.factories import MembershipFactory, UserFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

HEAP_MB = int(os.environ.get("SKIFF_TEST_KAFKA_HEAP_MB", "256"))
START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))


class OpenAclCell(LocalCell):
    """A cell whose authorizer lets anyone at a resource without ACLs: what Skiff refuses."""

    def _write_properties(self, state, node) -> None:
        super()._write_properties(state, node)
        path = self._properties_path(node.node_id)
        # java.util.Properties: the last occurrence of a key wins.
        path.write_text(path.read_text() + "\nallow.everyone.if.no.acl.found=true\n")


def _start(cell: LocalCell) -> CellInfo:
    atexit.register(cell.down)
    try:
        info = cell.up(nodes=1, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except CellError as exc:
        cell.down()
        pytest.fail(f"the 1-node cell could not start: {exc}", pytrace=False)
    # A loaded machine may serve the cell before its metrics exporter answers (the launcher
    # goes on after 45 s with a warning). The Kafka being registered must be whole: wait until
    # its metrics endpoint answers its own credential, or fail saying what it answered.
    node = info.nodes[0]
    url = f"http://{node.host}:{node.metrics_port}/metrics"
    token = base64.b64encode(f"{info.metrics_username}:{info.metrics_password}".encode())

    def metrics_answer() -> None:
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token.decode()}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http to our cell)
            assert response.status == 200, f"{url} answered {response.status}"

    try:
        eventually(metrics_answer, timeout=START_TIMEOUT, interval=1.0)
    except Exception as exc:
        cell.down()
        pytest.fail(
            f"the 1-node cell's metrics endpoint {url} never answered: {exc}", pytrace=False
        )
    return info


@pytest.fixture(scope="module")
def external_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    # Its exporter has Skiff's full rules, per-topic series included, as a registered cell's
    # must (docs/fleet.md); the platform's own cells serve those from each node's endpoint.
    cell = LocalCell(
        tmp_path_factory.mktemp("external-cell"), name="strimzi-like", exporter_topic_series=True
    )
    try:
        yield _start(cell)
    finally:
        cell.down()
        atexit.unregister(cell.down)


@pytest.fixture(scope="module")
def open_acl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    cell = OpenAclCell(tmp_path_factory.mktemp("open-acl-cell"), name="open-acl")
    try:
        yield _start(cell)
    finally:
        cell.down()
        atexit.unregister(cell.down)


def registration_body(info: CellInfo, name: str) -> dict:
    node = info.nodes[0]
    return {
        "name": name,
        "bootstrap_servers": info.bootstrap,
        "username": info.admin_username,
        "password": info.admin_password,
        "ca_pem": Path(info.ca_path).read_text(),
        "metrics_url": f"http://{node.host}:{node.metrics_port}/metrics",
        "metrics_username": info.metrics_username,
        "metrics_password": info.metrics_password,
    }


@pytest.fixture
def staff_api(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def test_a_registered_kafka_serves_a_tenant_end_to_end(
    external_kafka, staff_api, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SKIFF_HOME = tmp_path / "skiff-home"
    started = time.monotonic()
    response = staff_api.post(
        "/api/v1/fleet/cells/",
        data=json.dumps(registration_body(external_kafka, "strimzi")),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    cell = Cell.objects.get(name="strimzi")
    assert cell.kind == Cell.Kind.EXTERNAL
    assert cell.kafka_cluster_id == external_kafka.cluster_id
    assert list(cell.brokers.values_list("node_id", flat=True)) == [external_kafka.nodes[0].node_id]
    # The credential lives in an owner-only file, the way local cells keep theirs.
    credentials = Path(cell.credentials_path)
    assert credentials.is_relative_to(settings.SKIFF_HOME)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["admin_password"] == external_kafka.admin_password
    assert external_kafka.admin_password not in response.content.decode()
    assert AuditEvent.objects.filter(action="cell.register", target_id=str(cell.pk)).exists()

    # Placement: the one open, healthy cell with room.
    placement = staff_api.get("/api/v1/fleet/placement/").json()
    assert placement[0]["cell"] == "strimzi" and placement[0]["rank"] == 1

    member = MembershipFactory(team__slug=f"x{uuid.uuid4().hex[:8]}")
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team, user=member.user, spec=ClusterSpec(name="orders")
        )
    cluster = created.cluster
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
    assert cluster.cell == cell

    admin = external_kafka.admin_connection(timeout=20)
    topic = f"{cluster.wire_prefix}payments"
    gateway.create_topic(admin, topic, partitions=2)
    client = gateway.KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=created.initial_key.username,
        password=created.secret,
        ca_path=cell.ca_path,
        timeout=20,
    )
    sampler = Sampler(timeout=5.0)
    baseline = sampler.run_once()
    assert baseline.scraped == 1 and not baseline.unreachable

    payloads = [f"payment-{i}".encode() * 50 for i in range(200)]
    assert eventually(lambda: gateway.produce(client, topic, payloads), timeout=30) == 200
    got = gateway.consume(client, topic, group_id=f"{cluster.wire_prefix}readers", max_messages=200)
    assert sorted(m.value for m in got) == sorted(payloads)

    def counted():
        outcome = sampler.run_once()
        document = outcome.documents.get(cluster.pk)
        assert document is not None, "no live throughput document for the cluster yet"
        rows = TopicMinuteUsage.objects.filter(cluster=cluster, topic="payments")
        assert sum(r.messages_in for r in rows) >= 200
        assert sum(r.bytes_out for r in rows) > 0
        return document

    document = eventually(counted, timeout=30, interval=1.0)
    assert "payments" in document["topics"]
    assert Broker.objects.get(cell=cell).state == Broker.State.UP

    # The tenant sees its throughput like on any cell (the snapshot the sampler wrote).
    tenant = Client()
    tenant.force_login(member.user)
    live = tenant.get(f"/api/v1/clusters/{cluster.pk}/throughput/")
    assert live.status_code == 200, live.content
    assert "payments" in live.json()["topics"]

    # The cell page and API read the registered cell like any other.
    detail = staff_api.get(f"/api/v1/fleet/cells/{cell.pk}/").json()
    assert detail["status"]["reachable"] is True
    assert detail["status"]["brokers"][0]["status"] == "up"
    assert detail["load"]["tenancy"]["clusters"] == 1
    assert time.monotonic() - started < 90


def test_a_kafka_that_allows_everyone_without_acls_is_refused_with_that_reason(
    open_acl_kafka, staff_api, settings, tmp_path
):
    settings.SKIFF_HOME = tmp_path / "skiff-home"
    response = staff_api.post(
        "/api/v1/fleet/cells/",
        data=json.dumps(registration_body(open_acl_kafka, "open")),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "cell_refused"
    assert any("allow.everyone.if.no.acl.found=true" in reason for reason in body["checks"])
    assert "allow.everyone.if.no.acl.found" in body["detail"]
    # Nothing else was wrong with it, and nothing was recorded.
    assert len(body["checks"]) == 1, body["checks"]
    assert not Cell.objects.filter(name="open").exists()
    assert not (settings.SKIFF_HOME / "cells" / "open").exists()
