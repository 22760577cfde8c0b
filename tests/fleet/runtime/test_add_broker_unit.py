"""Broker-only nodes (issue 14) without a running broker: slots, rendered properties, state."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fleet.runtime import launcher
from fleet.runtime.launcher import CellError, LocalCell, _CellState


def _parse(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


@pytest.fixture
def private_claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    claims = tmp_path / "claims.json"
    monkeypatch.setattr(launcher, "_CLAIMS_FILE", claims)
    return claims


@pytest.fixture
def cell_with_broker(tmp_path: Path, private_claims: Path) -> tuple[LocalCell, _CellState]:
    cell = LocalCell(tmp_path / "cell", name="unit")
    state = cell._create(3, None)
    node = cell._next_broker_slot(state, rack="rack-b")
    state = replace(state, nodes=(*state.nodes, node))
    (cell.node_dir(node.node_id) / "tls").mkdir(parents=True)
    for n in state.nodes:
        cell._write_properties(state, n)
    return cell, state


def test_added_broker_takes_the_next_id_and_the_first_free_slot_of_the_block(
    cell_with_broker: tuple[LocalCell, _CellState],
) -> None:
    _, state = cell_with_broker
    added = state.nodes[-1]
    assert added.node_id == 4 and added.roles == "broker" and added.rack == "rack-b"
    base = state.port_base + 30
    assert (added.client_port, added.internal_port, added.controller_port, added.metrics_port) == (
        base,
        base + 1,
        base + 2,
        base + 3,
    )
    # A retired node's slot is reused; the node id keeps growing past the highest.
    without_2 = replace(state, nodes=tuple(n for n in state.nodes if n.node_id != 2))
    again = LocalCell._next_broker_slot(without_2, rack="")
    assert again.node_id == 5 and again.client_port == state.port_base + 10


def test_a_full_block_refuses_another_broker(tmp_path: Path, private_claims: Path) -> None:
    cell = LocalCell(tmp_path / "full")
    state = cell._create(3, None)
    for _ in range(launcher.MAX_NODES_PER_BLOCK - 3):
        state = replace(state, nodes=(*state.nodes, cell._next_broker_slot(state, rack="")))
    with pytest.raises(CellError, match="port block holds at most 10"):
        cell._next_broker_slot(state, rack="")


def test_broker_only_node_joins_the_existing_voters(
    cell_with_broker: tuple[LocalCell, _CellState],
) -> None:
    cell, state = cell_with_broker
    combined = _parse(cell._properties_path(1).read_text())
    broker = _parse(cell._properties_path(4).read_text())
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in state.nodes[:3])
    assert broker["process.roles"] == "broker"
    assert broker["controller.quorum.voters"] == voters == combined["controller.quorum.voters"]
    assert combined["process.roles"] == "broker,controller"
    # No CONTROLLER listener on a broker, but it still speaks to the controllers over it.
    assert "CONTROLLER://" not in broker["listeners"]
    assert broker["controller.listener.names"] == "CONTROLLER"
    assert "CONTROLLER:SASL_PLAINTEXT" in broker["listener.security.protocol.map"]
    assert broker["broker.rack"] == "rack-b" and "broker.rack" not in combined
    # Same security, limits, policies and defaults as the combined nodes.
    for key in (
        "listener.security.protocol.map",
        "sasl.enabled.mechanisms",
        "authorizer.class.name",
        "allow.everyone.if.no.acl.found",
        "super.users",
        "default.replication.factor",
        "min.insync.replicas",
        "max.connections.per.ip",
        "create.topic.policy.class.name",
        "alter.config.policy.class.name",
        "ssl.truststore.type",
    ):
        assert broker[key] == combined[key], key
    assert broker["log.dirs"] == str(cell.node_dir(4) / "data")


def test_state_files_written_before_roles_existed_still_load(
    cell_with_broker: tuple[LocalCell, _CellState],
) -> None:
    cell, state = cell_with_broker
    data = json.loads(state.to_json())
    assert data["nodes"][3]["roles"] == "broker"
    for node in data["nodes"]:  # an issue-13 cell.json: no roles, no rack
        node.pop("roles")
        node.pop("rack")
    old = _CellState.from_json(json.dumps(data))
    assert all(n.roles == "broker,controller" and n.is_controller for n in old.nodes)
    info = cell._info(state)
    assert [n.roles for n in info.nodes] == ["broker,controller"] * 3 + ["broker"]
    assert [n.is_controller for n in info.nodes] == [True, True, True, False]


def test_controllers_cannot_retire(cell_with_broker: tuple[LocalCell, _CellState]) -> None:
    cell, _ = cell_with_broker
    with pytest.raises(CellError, match="is a controller"):
        cell.retire_node(2)


# --- readiness probe outcomes and the exporter's bind failure (flake of issue 13/14) ----------


def test_probe_names_refused_unauthorized_and_timed_out() -> None:
    import http.server
    import socket
    import threading

    class Deny(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        denied = f"http://127.0.0.1:{server.server_address[1]}/-/healthy"
        assert launcher._probe_http(denied, auth=("metrics", "x")) == "HTTP 401"
        refused = f"http://127.0.0.1:{closed_port}/-/healthy"
        assert launcher._probe_http(refused) == launcher.PROBE_REFUSED
        hung = f"http://127.0.0.1:{silent.getsockname()[1]}/-/healthy"
        assert launcher._probe_http(hung, timeout=0.5) == "timed out"
    finally:
        server.shutdown()
        silent.close()


def test_the_agents_bind_error_is_found_only_since_the_last_start(tmp_path: Path) -> None:
    cell = LocalCell(tmp_path / "c")
    cell.node_dir(1).mkdir(parents=True)
    log = cell.console_log(1)
    log.write_text(
        "\n==== skiff: starting node 1 at then\njava.net.BindException: Address already in use\n"
        "Prometheus JMX Exporter exiting\n"
    )
    assert cell._agent_failed_to_bind(1)
    log.write_text(log.read_text() + "\n==== skiff: starting node 1 at now\nKafka started\n")
    assert not cell._agent_failed_to_bind(1)


def test_a_block_claimed_by_a_cell_still_being_created_is_not_given_to_another(
    tmp_path: Path, private_claims: Path
) -> None:
    # The first cell has chosen its block but not yet written cell.json (its certificates come
    # first). A second cell choosing at that moment must take another block: two cells on one
    # block answered each other's metrics probes with 401.
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    base = launcher._choose_port_base(first, 1)
    assert not (first / "cell.json").exists()
    assert launcher._choose_port_base(second, 1) != base
    # A claim whose cell directory is gone is free again.
    (tmp_path / "third").mkdir()
    first.rmdir()
    assert launcher._choose_port_base(tmp_path / "third", 1) == base
