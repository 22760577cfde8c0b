"""Launcher pieces that need no running broker: properties, ids, ports, pid safety."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.runtime import launcher
from fleet.runtime.launcher import (
    LocalCell,
    NodeAddress,
    new_cluster_id,
    render_node_properties,
    replication_defaults,
)


def _parse(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key] = value
    return props


def _nodes(n: int) -> list[NodeAddress]:
    return [
        NodeAddress(
            node_id=i + 1,
            host="127.0.0.1",
            client_port=19100 + i * 10,
            internal_port=19101 + i * 10,
            controller_port=19102 + i * 10,
        )
        for i in range(n)
    ]


def _render(nodes: list[NodeAddress], **overrides: object) -> dict[str, str]:
    rf, _ = replication_defaults(len(nodes))
    kwargs: dict = dict(
        voters=nodes,
        log_dir="/data",
        keystore_path="/tls/keystore.pem",
        truststore_path="/tls/truststore.pem",
        admin_password="adminpw",
        controller_password="ctrlpw",
        replication_factor=rf,
    )
    kwargs.update(overrides)
    return _parse(render_node_properties(nodes[0], **kwargs))


def test_three_node_properties_are_hardened() -> None:
    props = _render(_nodes(3))

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19102,2@127.0.0.1:19112,3@127.0.0.1:19122"
    )
    assert props["listeners"] == (
        "CLIENT://127.0.0.1:19100,INTERNAL://127.0.0.1:19101,CONTROLLER://127.0.0.1:19102"
    )
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:19100,INTERNAL://127.0.0.1:19101"
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert protocols == {
        "CLIENT": "SASL_SSL",
        "INTERNAL": "SASL_SSL",
        "CONTROLLER": "SASL_PLAINTEXT",
    }
    assert "PLAINTEXT://" not in props["listeners"]
    # Listener guard rails (issue 13): INTERNAL accepts only the node identity, over PLAIN.
    assert props["sasl.mechanism.inter.broker.protocol"] == "PLAIN"
    assert props["listener.name.internal.sasl.enabled.mechanisms"] == "PLAIN"
    internal_jaas = props["listener.name.internal.plain.sasl.jaas.config"]
    assert 'username="controller" password="ctrlpw"' in internal_jaas
    assert 'user_controller="ctrlpw"' in internal_jaas
    assert "user_admin" not in internal_jaas
    assert not any(k.startswith("listener.name.internal.scram") for k in props)
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert (
        'username="controller" password="ctrlpw"'
        in props["listener.name.controller.plain.sasl.jaas.config"]
    )
    assert props["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:controller"
    assert "ANONYMOUS" not in props["super.users"]
    assert props["auto.create.topics.enable"] == "false"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert "ssl.keystore.password" not in props and "ssl.key.password" not in props
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "3", key
    for key in (
        "min.insync.replicas",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "2", key
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_replication_is_tuned_for_many_idle_partitions() -> None:
    # A leader reads every partition of a follower's fetch session on each fetch: more, smaller
    # sessions, and fewer empty rounds (bench/density.py's round trip at 1,000 clusters).
    props = _render(_nodes(3))
    assert props["num.replica.fetchers"] == "64"
    assert int(props["replica.fetch.wait.max.ms"]) == 2000
    # An empty fetch must never wait long enough to drop a follower from the ISR.
    assert int(props["replica.fetch.wait.max.ms"]) < 30_000  # replica.lag.time.max.ms default


def test_single_node_uses_replication_factor_one() -> None:
    props = _render(_nodes(1))
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19102"
    assert props["default.replication.factor"] == "1"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"


def test_compose_style_addresses_and_broker_only_nodes() -> None:
    node = NodeAddress(
        node_id=4,
        host="kafka-4",
        client_port=9092,
        internal_port=9093,
        controller_port=9094,
        bind_host="0.0.0.0",  # noqa: S104 (a container's listen address, rendered only)
        client_advertised="localhost:19092",
    )
    voters = _nodes(3)
    text = render_node_properties(
        node,
        voters=voters,
        log_dir="/var/lib/kafka",
        keystore_path="/tls/k.pem",
        truststore_path="/tls/t.pem",
        admin_password="a",
        controller_password="c",
        replication_factor=3,
        process_roles="broker",
        extra={"num.io.threads": "2"},
    )
    props = _parse(text)
    assert props["process.roles"] == "broker"
    assert props["listeners"] == "CLIENT://0.0.0.0:9092,INTERNAL://0.0.0.0:9093"
    assert props["advertised.listeners"] == "CLIENT://localhost:19092,INTERNAL://kafka-4:9093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["num.io.threads"] == "2"


@pytest.mark.parametrize("bad", ['pa"ss', "pa\\ss", "pa;ss", "pa\nss"])
def test_passwords_that_would_break_jaas_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        _render(_nodes(1), admin_password=bad)


def test_cluster_id_looks_like_a_kafka_uuid() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


@pytest.fixture
def private_claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Port claims in a private file, so this test never races real cells on the host."""
    claims = tmp_path / "claims.json"
    monkeypatch.setattr(launcher, "_CLAIMS_FILE", claims)
    return claims


def test_new_cells_get_distinct_free_port_blocks(tmp_path: Path, private_claims: Path) -> None:
    first = LocalCell(tmp_path / "a")._create(3, None)
    # Occupy a port of the next free block, as a foreign process would.
    candidates = [
        b
        for b in range(launcher.PORT_SEARCH_START, launcher.PORT_SEARCH_END + 1, 100)
        if b != first.port_base and all(launcher._port_free(p) for p in launcher._block_ports(b, 3))
    ]
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", candidates[0] + 12))
    blocker.listen()
    try:
        second = LocalCell(tmp_path / "b")._create(3, None)
    finally:
        blocker.close()

    assert first.port_base != second.port_base
    assert second.port_base != candidates[0]
    claim = json.loads(private_claims.read_text())[str(second.port_base)]
    assert claim["state_dir"] == str(tmp_path / "b")
    # The state file holds the credentials: owner-only.
    assert (tmp_path / "a" / "cell.json").stat().st_mode & 0o077 == 0
    state = json.loads((tmp_path / "a" / "cell.json").read_text())
    assert len(state["admin_password"]) >= 32 and len(state["controller_password"]) >= 32
    assert [n["client_port"] for n in state["nodes"]] == [
        first.port_base,
        first.port_base + 10,
        first.port_base + 20,
    ]


def test_down_never_signals_a_pid_that_is_not_our_broker(
    tmp_path: Path, private_claims: Path
) -> None:
    """A stale pid file pointing at a reused pid must not get that process killed."""
    cell = LocalCell(tmp_path / "cell")
    cell._create(1, None)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cell._pid_path(1).parent.mkdir(parents=True, exist_ok=True)
        cell._pid_path(1).write_text(f"{bystander.pid}\n")

        status = cell.status()
        assert status is not None and not status.nodes[0].alive
        cell.down(timeout=1)

        assert bystander.poll() is None, "down() killed a process that is not our Kafka"
        assert not cell._pid_path(1).exists()
    finally:
        bystander.kill()
        bystander.wait()
    assert os.path.exists(tmp_path / "cell" / "cell.json")


def test_stale_claims_of_stopped_cells_are_reused(tmp_path: Path, private_claims: Path) -> None:
    """A stopped cell (or a leftover test dir) must not hold its port block forever."""
    old = LocalCell(tmp_path / "old")._create(1, None)
    claims = json.loads(private_claims.read_text())
    claims[str(old.port_base)]["at"] -= launcher.CLAIM_GRACE_SECONDS + 1
    private_claims.write_text(json.dumps(claims))

    new = LocalCell(tmp_path / "new")._create(1, None)

    assert new.port_base == old.port_base  # no JVM of "old" runs: its block is free again


def test_missing_java_or_maven_gives_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleet.runtime.classpath import INSTALL_HINT, RuntimeUnavailable, ensure_classpath

    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "pom.xml").write_text("<project/>")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(RuntimeUnavailable) as caught:
        ensure_classpath(fleet)
    assert INSTALL_HINT in str(caught.value)
    assert "`java` was not found" in str(caught.value)


# Connection guard rails (issue 13) ----------------------------------------------------------


def test_connection_guard_rails_are_rendered_on_every_node() -> None:
    props = _render(_nodes(3))
    assert props["max.connections.per.ip"] == "200"
    assert props["max.connections.per.ip.overrides"] == "127.0.0.1:2000"
    assert props["listener.name.client.max.connections"] == "2000"
    assert props["listener.name.client.max.connection.creation.rate"] == "200"
    assert props["connection.failed.authentication.delay.ms"] == "1000"
    assert props["connections.max.reauth.ms"] == "300000"


def test_connection_limits_come_from_the_environment() -> None:
    from fleet.runtime.launcher import ConnectionLimits

    limits = ConnectionLimits.from_env(
        {
            "SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP": "50",
            "SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES": "",
            "SKIFF_KAFKA_CONNECTIONS_MAX_REAUTH_MS": "10000",
        }
    )
    assert limits == ConnectionLimits(max_connections_per_ip=50, reauth_ms=10_000)
    props = limits.properties()
    assert props["max.connections.per.ip"] == "50"
    assert props["connections.max.reauth.ms"] == "10000"


def test_django_settings_default_to_the_launcher_defaults(settings) -> None:
    from fleet.runtime.launcher import ConnectionLimits
    from fleet.services.cells import connection_limits_from_settings

    assert connection_limits_from_settings() == ConnectionLimits.from_env({})


# Metrics behind authentication (issue 13) ---------------------------------------------------


def test_metrics_config_asks_for_a_salted_sha256_password() -> None:
    import hashlib

    import yaml

    from fleet.runtime.launcher import render_metrics_config

    text = render_metrics_config("rules:\n  - pattern: x\n", username="metrics", password="pw")
    assert "pw\n" not in text
    basic = yaml.safe_load(text)["httpServer"]["authentication"]["basic"]
    assert basic["username"] == "metrics"
    assert basic["algorithm"] == "SHA-256"
    assert basic["passwordHash"] == hashlib.sha256(f"{basic['salt']}:pw".encode()).hexdigest()


def _salt_whose_digest_starts_with_zero(password: str) -> str:
    import hashlib
    import secrets

    while True:
        salt = secrets.token_hex(16)
        if hashlib.sha256(f"{salt}:{password}".encode()).hexdigest().startswith("0"):
            return salt


def _draw_first(monkeypatch: pytest.MonkeyPatch, salt: str) -> None:
    """`secrets.token_hex` gives ``salt`` first, then fresh salts again."""
    real = launcher.secrets.token_hex
    drawn = iter([salt])
    monkeypatch.setattr(launcher.secrets, "token_hex", lambda n=16: next(drawn, None) or real(n))


def test_metrics_config_never_carries_a_digest_the_exporter_cannot_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The agent (jmx_exporter 1.0.1) drops the leading zeros of its hex digest before comparing:
    # a passwordHash starting with "0" locked the cell's own credential out (HTTP 401).
    import hashlib

    import yaml

    unlucky = _salt_whose_digest_starts_with_zero("pw")
    _draw_first(monkeypatch, unlucky)
    text = launcher.render_metrics_config("rules: []\n", username="metrics", password="pw")
    basic = yaml.safe_load(text)["httpServer"]["authentication"]["basic"]
    assert basic["salt"] != unlucky
    assert not basic["passwordHash"].startswith("0")
    assert basic["passwordHash"] == hashlib.sha256(f"{basic['salt']}:pw".encode()).hexdigest()
    assert launcher.exporter_accepts(salt=basic["salt"], password="pw")
    assert not launcher.exporter_accepts(salt=unlucky, password="pw")


def test_metrics_config_keeps_a_given_salt_only_when_the_exporter_accepts_it() -> None:
    render = launcher.render_metrics_config
    first = render("rules: []\n", username="metrics", password="pw")
    salt = launcher.configured_salt(first)
    assert salt is not None
    assert render("rules: []\n", username="metrics", password="pw", salt=salt) == first
    unlucky = _salt_whose_digest_starts_with_zero("pw")
    again = render("rules: []\n", username="metrics", password="pw", salt=unlucky)
    assert launcher.configured_salt(again) not in (None, unlucky)


def test_the_exporter_config_is_not_rewritten_for_a_node_start_under_running_agents(
    tmp_path: Path,
) -> None:
    # Every node's agent reads the one file; restarting one node must leave it as it is.
    import hashlib
    from types import SimpleNamespace

    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    cell = LocalCell(tmp_path / "cell", name="c")
    runtime = SimpleNamespace(metrics_config=rules)
    state = SimpleNamespace(metrics_password="pw")
    cell._write_metrics_config(state, runtime)
    path = cell._metrics_config_path
    before = (path.read_text(), path.stat().st_ino, path.stat().st_mtime_ns)
    cell._write_metrics_config(state, runtime)
    assert (path.read_text(), path.stat().st_ino, path.stat().st_mtime_ns) == before
    # A new password (a cell made before issue 13 gets one) is written.
    cell._write_metrics_config(SimpleNamespace(metrics_password="other"), runtime)
    salt = launcher.configured_salt(path.read_text())
    assert salt is not None
    assert launcher.exporter_accepts(salt=salt, password="other")
    assert f'passwordHash: "{hashlib.sha256(f"{salt}:other".encode()).hexdigest()}"' in (
        path.read_text()
    )
