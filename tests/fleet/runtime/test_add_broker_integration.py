"""Add and retire a broker-only node on a dedicated one-node cell (issue 14), through the
services the fleet operations call, and read the result back from Kafka itself."""

from __future__ import annotations

import atexit
import json
import time
from collections.abc import Iterator

import pytest

from fleet.kafka import brokers
from fleet.models import Broker
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, CellInfo, LocalCell
from fleet.services.cells import add_local_broker, cell_record_local, retire_local_broker
from tests.plugins.kafka import HEAP_MB, START_TIMEOUT


@pytest.fixture(scope="module")
def small_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    cell = LocalCell(tmp_path_factory.mktemp("add-broker-cell"), name="addbroker")
    atexit.register(cell.down)
    try:
        info = cell.up(nodes=1, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        cell.down()
        pytest.fail(f"the add-broker test cell could not start: {exc}", pytrace=False)
    try:
        yield info
    finally:
        cell.down()
        atexit.unregister(cell.down)


def _wait(predicate, *, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.3)


def test_add_then_retire_a_broker(small_cell: CellInfo, db, settings) -> None:
    settings.SKIFF_BROKER_HEAP_MB = HEAP_MB
    cell = cell_record_local(small_cell)
    conn = small_cell.admin_connection(timeout=20)

    added = add_local_broker(cell=cell, rack="rack-b")

    assert added.node_id == 2 and added.roles == "broker" and added.rack == "rack-b"
    assert added.state == Broker.State.UP and added.pid
    cell.refresh_from_db()
    assert f"127.0.0.1:{added.port}" in cell.bootstrap_servers.split(",")
    described = {b.node_id: b for b in brokers.describe_brokers(conn)}
    assert set(described) == {1, 2}
    assert described[2].rack == "rack-b" and not described[2].fenced
    assert described[1].is_controller and not described[2].is_controller
    quorum = brokers.describe_quorum(conn)
    assert quorum.leader_id == 1 and quorum.voter_ids == {1}
    assert 2 in {o.node_id for o in quorum.observers}
    assert quorum.max_voter_lag == 0

    retire_local_broker(cell=cell, node_id=2)

    row = Broker.objects.get(cell=cell, node_id=2)
    assert row.state == Broker.State.UNREGISTERED and row.pid is None
    _wait(
        lambda: [b.node_id for b in brokers.describe_brokers(conn)] == [1],
        timeout=15,
        message="broker 2 is still registered after retire_local_broker",
    )
    assert brokers.fenced_broker_ids(conn) == set()
    state = json.loads((small_cell.state_dir / "cell.json").read_text())
    assert [n["node_id"] for n in state["nodes"]] == [1]
    assert not (small_cell.state_dir / "node-2").exists()
    cell.refresh_from_db()
    assert cell.bootstrap_servers == small_cell.bootstrap
    # Again (a retried operation): nothing left to do, no error.
    retire_local_broker(cell=cell, node_id=2)
    # The row survives a re-record of the cell, as history.
    cell_record_local(LocalCell(small_cell.state_dir, name="addbroker").status())
    assert Broker.objects.get(cell=cell, node_id=2).state == Broker.State.UNREGISTERED
