"""A stopped broker (issue 15, acceptance 5): one broker of a dedicated 3-node cell is SIGSTOPped
(it accepts connections and never answers, like a hung JVM) during API calls that need the
cell. Every call answers within SKIFF_KAFKA_TIMEOUT + 2 s with a success or a 504 naming the
cell; none answers 500, and no body carries a client library's own error text. The access
reconciler goes on with the brokers that answer. SIGCONT afterwards, always.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import override_settings
from rest_framework.test import APIClient

from clusters.models import Cluster
from clusters.services import topics
from clusters.services.access.reconcile import reconcile_all_access
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Role
from console.services.teams import api_token_create
from fleet.kafka.connection import close_clients
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, CellInfo, LocalCell
from fleet.services.cells import cell_record_local
from fleet.services.sampler import Sampler
from tests.factories import MembershipFactory
from tests.plugins.kafka import HEAP_MB, START_TIMEOUT

TIMEOUT = 5.0  # SKIFF_KAFKA_TIMEOUT for this test
SLACK = 2.0
HANG = 30.0  # a call still running after this has hung: the test fails instead of waiting
WATCHDOG = 150.0  # the stopped broker is continued after this long, whatever happens
RAW = ("_DESTROY", "Broker handle", "Traceback", "KafkaException", "KafkaError", "Local: ")


@pytest.fixture(scope="module")
def stoppable_cell(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalCell, CellInfo]]:
    """A dedicated 3-node cell for this module (the session's cell is never stopped)."""
    local = LocalCell(tmp_path_factory.mktemp("stoppable-cell"), name="stoppable")
    atexit.register(local.down)
    try:
        info = local.up(nodes=3, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        local.down()
        pytest.fail(f"the stoppable Kafka cell could not start: {exc}", pytrace=False)
    try:
        yield local, info
    finally:
        for node in info.nodes:  # never leave a stopped JVM behind
            if node.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, signal.SIGCONT)
        local.down()
        atexit.unregister(local.down)


def _bounded(call, what: str):
    """`call()`, failing the test (instead of hanging it) if it has not answered in time."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG)
    if worker.is_alive():
        pytest.fail(f"{what} did not answer within {HANG:.0f} s with a broker stopped")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _leader_of(cluster: Cluster, topic: str) -> int:
    detail = topics.topic_get(cluster=cluster, name=topic)
    return detail.partitions[0].leader


def test_a_stopped_broker_gives_504s_or_answers_in_time(
    stoppable_cell, transactional_db, django_capture_on_commit_callbacks
):
    _local, info = stoppable_cell
    close_clients()
    member = MembershipFactory(team__slug=f"s{uuid.uuid4().hex[:8]}", role=Role.OWNER)
    with override_settings(SKIFF_KAFKA_TIMEOUT=TIMEOUT):
        cell_record_local(info)
        with django_capture_on_commit_callbacks(execute=True):
            created = cluster_create(
                team=member.team,
                user=member.user,
                spec=ClusterSpec(name="stop", policy_template="admin"),
            )
        cluster = Cluster.objects.get(pk=created.cluster.pk)
        assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
        topics.topic_create(cluster=cluster, name="t", partitions=3, configs={})
        victim = next(n for n in info.nodes if n.node_id == _leader_of(cluster, "t"))
        _, raw = api_token_create(user=member.user, team=member.team, name="stop")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        base = f"/api/v1/clusters/{cluster.pk}"
        key = created.initial_key.pk
        calls = [
            ("topic detail", "get", f"{base}/topics/t/", None),
            ("topic list", "get", f"{base}/topics/", None),
            ("create topic", "post", f"{base}/topics/", {"name": "u", "partitions": 1}),
            ("messages", "get", f"{base}/topics/t/messages/", None),
            ("produce", "post", f"{base}/topics/t/messages/", {"value": "v", "partition": 0}),
            ("keys", "get", f"{base}/keys/", None),
            ("key detail", "get", f"{base}/keys/{key}/", None),
        ]
        # A first request loads the URLconf and the API's modules: not the broker's time.
        assert api.get(f"{base}/keys/").status_code == 200
        results = []
        os.kill(victim.pid, signal.SIGSTOP)
        # Whatever happens to this test, the broker runs again within WATCHDOG seconds.
        watchdog = threading.Timer(WATCHDOG, os.kill, (victim.pid, signal.SIGCONT))
        watchdog.start()
        try:
            stopped_at = time.monotonic()
            for what, method, url, body in calls:
                started = time.monotonic()
                response = _bounded(
                    lambda m=method, u=url, b=body: getattr(api, m)(u, b, format="json"), what
                )
                took = time.monotonic() - started
                results.append((what, response.status_code, took, response.content.decode()))
            # The periodic access repair goes on with the brokers that answer.
            started = time.monotonic()
            reports = _bounded(reconcile_all_access, "the access reconcile")
            reconcile_took = time.monotonic() - started
            # So does the sampler: one pass, the stopped broker reported unreachable.
            started = time.monotonic()
            sampled = _bounded(lambda: Sampler(timeout=TIMEOUT).run_once(), "a sampler pass")
            sample_took = time.monotonic() - started
            stopped_for = time.monotonic() - stopped_at
        finally:
            watchdog.cancel()
            os.kill(victim.pid, signal.SIGCONT)
        close_clients()

    lines = "\n".join(f"  {w}: {s} in {t:.1f} s: {b[:200]}" for w, s, t, b in results)
    summary = (
        f"broker {victim.node_id} stopped for {stopped_for:.0f} s:\n{lines}\n"
        f"  reconcile: {reconcile_took:.1f} s {reports}, sampler pass: {sample_took:.1f} s"
    )
    print(summary)
    for what, status, took, body in results:
        assert status in (200, 201, 504), f"{what}: {status}\n{summary}"
        assert took <= TIMEOUT + SLACK, f"{what}: {took:.1f} s\n{summary}"
        assert not any(raw in body for raw in RAW), f"{what}: raw client text\n{summary}"
        if status == 504:
            assert "stoppable" in body, f"{what}: the 504 does not name the cell\n{summary}"
    # The periodic repair is bounded: one ACL listing (asked again with a fresh client, which
    # may reach another broker) and one quota listing (kafka-python bootstraps past the stopped
    # broker); a cell that still does not answer is reported and the pass goes on.
    assert reconcile_took <= 2 * TIMEOUT + SLACK, f"reconcile took {reconcile_took:.1f} s"
    assert "stoppable" in reports, reports
    assert sample_took <= TIMEOUT + SLACK + 3, f"a sampler pass took {sample_took:.1f} s"
    assert sampled.scraped == 3, sampled
    assert [t.node_id for t in sampled.unreachable] == [victim.node_id], sampled.unreachable
