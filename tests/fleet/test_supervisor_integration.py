"""Issue 13, acceptance 4: a broker killed with SIGKILL is started again within 30 s by the
supervisor; a node the operator stopped is left stopped. On a one-broker cell of this module's
own, so killing it disturbs no other test."""

from __future__ import annotations

import atexit
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, LocalCell
from fleet.services.supervisor import SupervisorThread
from tests.fleet.kafka import gateway

START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))
HEAP_MB = 256  # one small broker is enough here
RESTART_WITHIN = 30.0  # the acceptance


@pytest.fixture(scope="module")
def supervised_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCell]:
    state_dir: Path = tmp_path_factory.mktemp("supervised-cell")
    local = LocalCell(state_dir, name="supervised")
    atexit.register(local.down)
    try:
        local.up(nodes=1, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        local.down()
        pytest.fail(f"the one-broker cell could not start: {exc}", pytrace=False)
    try:
        yield local
    finally:
        local.down()
        atexit.unregister(local.down)


def wait_for(condition, *, timeout: float, message: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout:g}s)")
        time.sleep(interval)


def answers_metadata(local: LocalCell) -> bool:
    info = local.status()
    assert info is not None
    try:
        described = gateway.describe_cluster(info.admin_connection(timeout=3.0))
    except gateway.KafkaGatewayError:
        return False
    return {b.node_id for b in described.brokers} == {n.node_id for n in info.nodes}


def test_a_killed_broker_is_restarted_and_a_stopped_one_is_not(supervised_cell):
    local = supervised_cell
    restarts: list[dict[str, list[int]]] = []
    supervisor = SupervisorThread(
        cells=lambda: [local], interval=1.0, heap_mb=HEAP_MB, on_restart=restarts.append
    )
    supervisor.start()
    try:
        info = local.status()
        assert info is not None and info.running
        node = info.nodes[0]
        assert node.pid is not None
        os.kill(node.pid, signal.SIGKILL)
        killed_at = time.monotonic()

        def back():
            now = local.status()
            assert now is not None
            restarted = now.nodes[0]
            return restarted.alive and restarted.pid != node.pid and answers_metadata(local)

        wait_for(back, timeout=RESTART_WITHIN, message="the killed broker was not back")
        took = time.monotonic() - killed_at
        # The report follows once `restart_crashed` has seen Kafka and the exporter answer: at
        # most one readiness round after the broker answered us (0.5 s pause, a describe and a
        # probe of 5 s each). A 401 from the exporter is no reason to wait longer: the cell's
        # own credential must be accepted (see test_exporter_auth_integration.py).
        wait_for(lambda: restarts, timeout=15, message="the restart was not reported")
        assert restarts == [{"supervised": [node.node_id]}]
        print(f"killed broker answered metadata again after {took:.1f}s")

        # The operator stops the node on purpose: the supervisor leaves it stopped.
        local.stop_node(node.node_id)
        checks = supervisor.checks
        wait_for(
            lambda: supervisor.checks >= checks + 3,
            timeout=30,
            message="the supervisor stopped checking",
        )
        stopped = local.status()
        assert stopped is not None and not stopped.nodes[0].alive
        assert local.crashed_nodes() == []
        assert len(restarts) == 1
    finally:
        supervisor.stop()
