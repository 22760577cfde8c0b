"""Acceptance 5 (issue 14): the autoscaler scales a real cell out under load and back in.

A dedicated 3-node cell (module-scoped: it gains and loses a broker, which the session's cell
must never do). With a lowered ingress capacity and a tenant producing for real, the sampler's
figures cross the high watermark; `evaluate_cell` (called directly, not by the scheduler) adds
a broker through the fleet operation engine (add_broker + add-brokers rebalance) and records the
decision. With the producer stopped and a short window, it drains and removes that broker, and
the cell is back at 3, the minimum it never goes below.
"""

from __future__ import annotations

import atexit
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from clusters.services.clusters import ClusterSpec, cluster_create
from fleet.kafka.platform import platform_superuser
from fleet.models import AutoscaleDecision, Broker, FleetOperation
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, CellInfo, LocalCell
from fleet.services.autoscaler import evaluate_cell
from fleet.services.cells import cell_record_local
from fleet.services.sampler import Sampler
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.plugins.kafka import HEAP_MB, START_TIMEOUT

Action = AutoscaleDecision.Action
# Per-broker ingress capacity: 20 kB/s, so a few hundred kB/s of real produce is "high".
CAPACITY = 20_000


@pytest.fixture(scope="module")
def autoscale_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    cell = LocalCell(tmp_path_factory.mktemp("autoscale-cell"), name="autoscale")
    atexit.register(cell.down)
    try:
        info = cell.up(nodes=3, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        cell.down()
        pytest.fail(f"the autoscaler's Kafka cell could not start: {exc}", pytrace=False)
    try:
        yield info
    finally:
        cell.down()
        atexit.unregister(cell.down)


@pytest.fixture
def autoscale_settings(settings):
    settings.SKIFF_BROKER_HEAP_MB = HEAP_MB  # the broker the autoscaler adds
    settings.SKIFF_AUTOSCALE_ENABLED = True
    settings.SKIFF_AUTOSCALE_DRY_RUN = False
    settings.SKIFF_AUTOSCALE_BROKER_INGRESS_BYTES_PER_SEC = CAPACITY
    settings.SKIFF_AUTOSCALE_BROKER_EGRESS_BYTES_PER_SEC = 10_000_000
    settings.SKIFF_AUTOSCALE_PARTITIONS_PER_BROKER = 10_000
    settings.SKIFF_AUTOSCALE_BROKER_DISK_BYTES = 10_000_000_000
    settings.SKIFF_AUTOSCALE_DISK_FRACTION = 0.8
    settings.SKIFF_AUTOSCALE_HIGH_WATERMARK = 0.8
    settings.SKIFF_AUTOSCALE_LOW_WATERMARK = 0.3
    settings.SKIFF_AUTOSCALE_WINDOW_SECONDS = 4
    settings.SKIFF_AUTOSCALE_SCALE_DOWN_WINDOW_SECONDS = 4
    settings.SKIFF_AUTOSCALE_COOLDOWN_SECONDS = 0
    settings.SKIFF_AUTOSCALE_MIN_BROKERS = 3
    settings.SKIFF_AUTOSCALE_INTERVAL = 60
    return settings


class Load(threading.Thread):
    """A tenant producing ~1 kB records in batches until stopped (real traffic, acks=all)."""

    def __init__(self, conn, topic: str) -> None:
        super().__init__(name="autoscale-load", daemon=True)
        self.conn, self.topic = conn, topic
        self.stop_event = threading.Event()
        self.delivered = 0
        self.error: Exception | None = None

    def run(self) -> None:
        batch = [bytes([i % 251]) * 1024 for i in range(200)]
        while not self.stop_event.is_set():
            try:
                self.delivered += gateway.produce(self.conn, self.topic, batch)
            except Exception as exc:  # a broker moving leaders: retry, keep the last error
                self.error = exc
                self.stop_event.wait(0.5)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)


def until(check, *, timeout: float, what: str, interval: float = 1.0):
    """Call `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what} within {timeout:.0f} s (last: {last!r})")


def wait_operation(operation_id: int, timeout: float) -> FleetOperation:
    def finished():
        op = FleetOperation.objects.get(pk=operation_id)
        return op if not op.is_active else None

    op = until(finished, timeout=timeout, what=f"fleet operation #{operation_id} to finish")
    assert op.state == FleetOperation.State.SUCCEEDED, (op.state, op.error, op.progress)
    return op


@pytest.mark.django_db(transaction=True)
def test_the_autoscaler_adds_a_broker_under_load_and_removes_it_when_idle(
    autoscale_cell, autoscale_settings, django_capture_on_commit_callbacks
):
    cell = cell_record_local(autoscale_cell)
    member = MembershipFactory(team__slug=f"a{uuid.uuid4().hex[:8]}")
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(team=member.team, user=member.user, spec=ClusterSpec(name="busy"))
    cluster = created.cluster
    cluster.refresh_from_db()
    assert cluster.cell_id == cell.pk
    admin = autoscale_cell.admin_connection(timeout=30)
    topic = f"{cluster.wire_prefix}load"
    gateway.create_topic(admin, topic, partitions=6)
    tenant = gateway.KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=created.initial_key.username,
        password=created.secret,
        ca_path=cell.ca_path,
        timeout=30,
    )
    sampler = Sampler(timeout=5.0)
    sampler.run_once()  # first pass: counters, no rates yet

    # --- scale-up: real load above 80% of the lowered capacity, sustained over the window ----
    load = Load(tenant, topic)
    load.start()
    try:

        def scaled_up():
            sampler.run_once()
            with django_capture_on_commit_callbacks(execute=True):
                decision = evaluate_cell(cell=cell)
            return decision if decision.action == Action.SCALE_UP else None

        up = until(scaled_up, timeout=60, what="a scale-up decision under load")
        assert load.delivered > 0, load.error
    finally:
        load.stop()
    assert up.operation is not None, up.reason
    assert up.operation.kind == FleetOperation.Kind.ADD_BROKER
    assert up.operation.requested_by == "autoscaler"
    assert not up.dry_run
    assert up.metrics["level"] == "high"
    assert up.metrics["per_broker"]["ingress"] >= 0.8 * CAPACITY
    assert up.metrics["thresholds"]["broker_ingress_bytes_per_sec"] == CAPACITY
    assert "ingress at" in up.reason and "add a broker to the 3" in up.reason
    # The window was honoured: the streak began at an earlier evaluation that did nothing.
    earlier = AutoscaleDecision.objects.filter(cell=cell, decided_at__lt=up.decided_at)
    assert earlier.filter(action=Action.NONE, metrics__level="high").exists()

    added_op = wait_operation(up.operation.pk, timeout=180)
    added = Broker.objects.get(cell=cell, roles="broker")
    assert added_op.broker_ids == [added.node_id]
    usage = platform_superuser(cell).broker_log_usage()
    assert sorted(usage) == sorted([n.node_id for n in autoscale_cell.nodes] + [added.node_id])
    assert usage[added.node_id].replicas > 0, "the add-brokers rebalance moved nothing there"

    # --- scale-down: no load, every figure far below the low watermark, for the window -------
    def scaled_down():
        sampler.run_once()
        with django_capture_on_commit_callbacks(execute=True):
            decision = evaluate_cell(cell=cell)
        return decision if decision.action == Action.SCALE_DOWN else None

    down = until(scaled_down, timeout=60, what="a scale-down decision once idle")
    assert down.operation is not None, down.reason
    assert down.operation.kind == FleetOperation.Kind.REMOVE_BROKER
    assert down.operation.broker_ids == [added.node_id]
    assert down.metrics["level"] == "low"
    assert f"remove broker {added.node_id} of the 4" in down.reason
    wait_operation(down.operation.pk, timeout=180)

    added.refresh_from_db()
    assert added.state == Broker.State.UNREGISTERED
    assert sorted(platform_superuser(cell).broker_log_usage()) == sorted(
        n.node_id for n in autoscale_cell.nodes
    )
    # At the minimum now: idle, yet nothing more to remove.
    sampler.run_once()
    with django_capture_on_commit_callbacks(execute=True):
        last = evaluate_cell(cell=cell)
    assert last.action == Action.NONE and last.operation is None
