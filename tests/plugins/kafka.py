"""A real Kafka cell for the test suite: 3 KRaft nodes started from fleet/lib by LocalCell.

Started lazily (only when a test asks for ``kafka_cell``), once per session, in a temp dir on
free ports; stopped at the end of the session (with an ``atexit`` fallback). If the cell
cannot start, the requesting tests fail with the reason and the broker log tail — never skip.

Knobs: ``SKIFF_TEST_KAFKA_TIMEOUT`` (start timeout, s), ``SKIFF_TEST_KAFKA_HEAP_MB``.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.kafka.connection import KafkaConnection, close_clients
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, CellInfo, LocalCell

START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))
HEAP_MB = int(os.environ.get("SKIFF_TEST_KAFKA_HEAP_MB", "256"))
NODES = 3


@pytest.fixture(scope="session")
def kafka_local_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCell]:
    """The LocalCell object (for tests that stop and start nodes). Prefer ``kafka_cell``."""
    state_dir: Path = tmp_path_factory.mktemp("kafka-cell")
    cell = LocalCell(state_dir, name="test")
    atexit.register(cell.down)  # if the session dies before fixture teardown
    started = time.monotonic()
    try:
        cell.up(nodes=NODES, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        cell.down()
        pytest.fail(f"the Kafka test cell could not start: {exc}", pytrace=False)
    _record_timing("kafka cell start", time.monotonic() - started)
    try:
        yield cell
    finally:
        close_clients()  # cached admin clients would go on asking the stopped cell
        cell.down()
        atexit.unregister(cell.down)


@pytest.fixture(scope="session")
def kafka_cell(kafka_local_cell: LocalCell) -> CellInfo:
    """A running 3-node cell: bootstrap, admin credentials, CA path, node ports and pids."""
    info = kafka_local_cell.status()
    assert info is not None and info.running
    return info


@pytest.fixture(scope="session")
def admin_connection(kafka_cell: CellInfo) -> KafkaConnection:
    """The platform's super-user connection to the test cell (SASL_SSL, SCRAM-SHA-512)."""
    return kafka_cell.admin_connection(timeout=20.0)


@pytest.fixture
def cell(kafka_cell: CellInfo, db):
    """The session's real 3-node cell, recorded in this test's database as the only cell."""
    from fleet.services.cells import cell_record_local

    return cell_record_local(kafka_cell)


@pytest.fixture(scope="session")
def unguarded_kafka_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    """A 1-node cell without Skiff's topic policies (issue 13), started only when asked for: a
    cell registered without them, where the platform can put a topic outside the rules."""
    cell = LocalCell(
        tmp_path_factory.mktemp("unguarded-cell"), name="unguarded", topic_policy=False
    )
    atexit.register(cell.down)
    try:
        info = cell.up(nodes=1, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        cell.down()
        pytest.fail(f"the policy-free Kafka cell could not start: {exc}", pytrace=False)
    try:
        yield info
    finally:
        cell.down()
        atexit.unregister(cell.down)


def _record_timing(label: str, seconds: float) -> None:
    # Shown in the harness summary of tests/plugins/services.py, when that plugin is loaded.
    try:
        from tests.plugins.services import TIMINGS
    except ImportError:
        return
    TIMINGS[label] = seconds


# --- the `kafka` marker: every test that touches a cell (make test-stress runs these) --------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kafka: the test uses a real Kafka cell (set from its fixtures)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(name == "cell" or "kafka" in name or name.endswith("_cell") for name in names):
            item.add_marker(pytest.mark.kafka)
