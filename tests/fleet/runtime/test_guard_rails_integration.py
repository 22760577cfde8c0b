"""Guard rails on the brokers (issue 13), observed with real clients against real cells.

- Listeners: a tenant's SCRAM key fails SASL on the inter-broker (INTERNAL) and controller
  listeners; only the node identity gets in there (acceptance 5).
- Metrics: the exporter answers 401 without the cell's metrics credential (acceptance 5).
- Connections: 1,000 TCP connections from one address — the broker holds at most
  ``max.connections.per.ip`` of them while another tenant keeps producing (acceptance 3).
- Re-authentication: a revoked key's connected producer is cut off within
  ``connections.max.reauth.ms`` plus one request (acceptance 6).

The flood and the revocation run on a one-broker cell of this module's own (small per-IP limit,
10 s re-authentication), so the session's shared cell is never flooded. The flood comes from
127.0.0.2: Linux routes all of 127.0.0.0/8 to loopback, so it is "another address" than the
127.0.0.1 every platform client and the legitimate tenant use.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Producer

from fleet.kafka.connection import KafkaConnection
from fleet.kafka.types import AclBinding
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import (
    CellError,
    CellInfo,
    ConnectionLimits,
    LocalCell,
    basic_auth_header,
)
from tests.fleet.kafka import gateway as gw
from tests.fleet.kafka.util import eventually, unique

START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))
PER_IP_LIMIT = 50
REAUTH_MS = 10_000
FLOOD = 1000
FLOOD_ADDRESS = "127.0.0.2"


# --- listeners and metrics, on the session's cell ---------------------------------------------


@pytest.fixture
def tenant_key(admin_connection: KafkaConnection) -> Iterator[tuple[str, str]]:
    user, password = unique("tenant-"), unique("password-")
    gw.create_scram_user(admin_connection, user, password)
    try:
        yield user, password
    finally:
        gw.revoke_scram_user(admin_connection, user)


def _controller_password(cell: CellInfo) -> str:
    return json.loads((cell.state_dir / "cell.json").read_text())["controller_password"]


def test_a_tenant_key_fails_sasl_on_the_inter_broker_and_controller_listeners(
    kafka_cell: CellInfo, tenant_key: tuple[str, str]
) -> None:
    user, password = tenant_key
    node = kafka_cell.nodes[0]
    client = KafkaConnection(kafka_cell.bootstrap, user, password, kafka_cell.ca_path, timeout=10)
    # The key works where tenants belong (a metadata read needs no ACL).
    eventually(lambda: gw.authenticate_on_broker(client, node.client_address))

    internal = f"{node.host}:{node.internal_port}"
    controller = f"{node.host}:{node.controller_port}"
    attempts = {
        "INTERNAL, SCRAM": (internal, "SCRAM-SHA-512", "SASL_SSL"),
        "INTERNAL, PLAIN": (internal, "PLAIN", "SASL_SSL"),
        "CONTROLLER, SCRAM": (controller, "SCRAM-SHA-512", "SASL_PLAINTEXT"),
        "CONTROLLER, PLAIN": (controller, "PLAIN", "SASL_PLAINTEXT"),
    }
    for label, (address, mechanism, protocol) in attempts.items():
        conn = KafkaConnection(
            address,
            user,
            password,
            kafka_cell.ca_path,
            mechanism=mechanism,
            security_protocol=protocol,
            timeout=10,
        )
        with pytest.raises(gw.KafkaGatewayError) as refused:
            gw.authenticate_on_broker(conn, address)
        assert isinstance(refused.value, gw.KafkaAuthenticationFailed), (label, refused.value)

    # The same listener lets the node identity in: it is the user list, not the port, that
    # refuses the tenant.
    node_identity = KafkaConnection(
        internal,
        "controller",
        _controller_password(kafka_cell),
        kafka_cell.ca_path,
        mechanism="PLAIN",
        timeout=10,
    )
    gw.authenticate_on_broker(node_identity, internal)


def _status(url: str, auth: tuple[str, str] | None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 (our broker's URL)
    if auth is not None:
        request.add_header("Authorization", basic_auth_header(auth))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_metrics_endpoint_needs_the_cells_metrics_credential(kafka_cell: CellInfo) -> None:
    auth = kafka_cell.metrics_auth
    assert auth is not None
    stored = json.loads((kafka_cell.state_dir / "cell.json").read_text())
    assert (stored["metrics_username"], stored["metrics_password"]) == auth
    for node in kafka_cell.nodes:
        assert _status(node.metrics_url, None) == 401
        assert _status(node.metrics_url, (auth[0], auth[1] + "x")) == 401
        assert _status(node.metrics_url, ("admin", auth[1])) == 401
        assert _status(node.metrics_url, auth) == 200


# --- connections and re-authentication, on a cell of this module's own ------------------------


@pytest.fixture(scope="module")
def guarded_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    state_dir: Path = tmp_path_factory.mktemp("guarded-cell")
    limits = ConnectionLimits(
        max_connections_per_ip=PER_IP_LIMIT,
        # The flood must not wait on the listener's accept rate (it delays, never refuses).
        client_creation_rate=5000,
        reauth_ms=REAUTH_MS,
    )
    local = LocalCell(state_dir, name="guarded", connection_limits=limits)
    atexit.register(local.down)
    try:
        info = local.up(nodes=1, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        local.down()
        pytest.fail(f"the one-broker guarded cell could not start: {exc}", pytrace=False)
    try:
        yield info
    finally:
        local.down()
        atexit.unregister(local.down)


def _tenant_producer(
    cell: CellInfo, admin: KafkaConnection, errors: list[KafkaError]
) -> tuple[str, str, Producer]:
    """A tenant with WRITE on its own topic, and its connected producer (from 127.0.0.1)."""
    topic, user, password = unique("tenant-topic-"), unique("tenant-"), unique("password-")
    gw.create_topic(admin, topic, partitions=1)
    gw.create_scram_user(admin, user, password)
    gw.create_acls(
        admin,
        [AclBinding("TOPIC", topic, "LITERAL", f"User:{user}", operation="WRITE")],
    )
    producer = Producer(
        {
            "bootstrap.servers": cell.bootstrap,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password,
            "ssl.ca.location": str(cell.ca_path),
            "enable.idempotence": False,
            "acks": "all",
            "linger.ms": 0,
            "message.timeout.ms": 3000,
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 500,
            "error_cb": errors.append,
        }
    )
    return topic, user, producer


def _deliver_one(producer: Producer, topic: str, timeout: float = 10.0) -> None:
    outcome: list[KafkaError | None] = []
    producer.produce(topic, b"x", on_delivery=lambda err, _msg: outcome.append(err))
    deadline = time.monotonic() + timeout
    while not outcome and time.monotonic() < deadline:
        producer.poll(0.1)
    assert outcome == [None], outcome


def _open(sock: socket.socket) -> bool:
    """Whether the broker still holds this connection (it closes the ones over the limit)."""
    sock.setblocking(False)  # a socket with a timeout would wait for data before peeking
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def test_one_address_holds_at_most_its_connections_while_others_keep_producing(
    guarded_cell: CellInfo,
) -> None:
    admin = guarded_cell.admin_connection(timeout=20.0)
    errors: list[KafkaError] = []
    topic, _user, producer = _tenant_producer(guarded_cell, admin, errors)
    eventually(lambda: _deliver_one(producer, topic, timeout=5.0), timeout=30)

    # Another tenant produces all through the flood.
    stop = threading.Event()
    delivered: list[float] = []
    failed: list[KafkaError] = []

    def produce_steadily() -> None:
        def done(err: KafkaError | None, _msg: object) -> None:
            (failed.append(err) if err is not None else delivered.append(time.monotonic()))

        while not stop.is_set():
            producer.produce(topic, b"steady", on_delivery=done)
            producer.poll(0.05)
        producer.flush(10)

    steady = threading.Thread(target=produce_steadily, name="steady-producer")
    steady.start()
    sockets: list[socket.socket] = []
    connect_failures = 0
    try:
        port = guarded_cell.nodes[0].client_port
        flood_started = time.monotonic()
        for _ in range(FLOOD):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((FLOOD_ADDRESS, 0))
            sock.settimeout(5)
            try:
                sock.connect((guarded_cell.nodes[0].host, port))
            except OSError:
                connect_failures += 1
                sock.close()
                continue
            sockets.append(sock)
        flood_seconds = time.monotonic() - flood_started

        def settled() -> int:
            held = sum(1 for s in sockets if _open(s))
            assert held <= PER_IP_LIMIT, f"{held} connections of one address held"
            return held

        held = eventually(settled, timeout=15, interval=0.5)
        # Kafka accepts the TCP connection, then closes each one over the per-IP limit.
        assert held == PER_IP_LIMIT, (held, connect_failures, flood_seconds)
        refused = FLOOD - held
        assert refused == FLOOD - PER_IP_LIMIT

        # While the flood holds its share, a new client from another address still gets in.
        late_errors: list[KafkaError] = []
        late_topic, _late_user, late = _tenant_producer(guarded_cell, admin, late_errors)
        eventually(lambda: _deliver_one(late, late_topic, timeout=5.0), timeout=30)
        flood_end = time.monotonic()
    finally:
        stop.set()
        steady.join(30)
        for sock in sockets:
            sock.close()

    assert not failed, failed[:3]
    during = [t for t in delivered if flood_started <= t <= flood_end]
    assert len(during) >= 10, f"only {len(during)} deliveries during the flood"
    assert not [e for e in errors if e.code() != KafkaError._TRANSPORT], errors[:3]


def test_a_revoked_keys_connected_producer_is_cut_off_within_the_reauth_interval(
    guarded_cell: CellInfo,
) -> None:
    admin = guarded_cell.admin_connection(timeout=20.0)
    errors: list[KafkaError] = []
    topic, user, producer = _tenant_producer(guarded_cell, admin, errors)
    eventually(lambda: _deliver_one(producer, topic, timeout=5.0), timeout=30)

    delivered: list[float] = []
    failed: list[tuple[float, KafkaError]] = []

    def done(err: KafkaError | None, _msg: object) -> None:
        now = time.monotonic()
        (failed.append((now, err)) if err is not None else delivered.append(now))

    # One request every 200 ms on the already-authenticated connection.
    for _ in range(10):
        producer.produce(topic, b"before", on_delivery=done)
        producer.poll(0.2)
    assert delivered and not failed

    revoked_at = time.monotonic()
    gw.revoke_scram_user(admin, user)  # what access_key_revoke does: a random, lost secret
    request_interval = 0.2
    deadline = revoked_at + REAUTH_MS / 1000 + 15
    while time.monotonic() < deadline:
        producer.produce(topic, b"after", on_delivery=done)
        producer.poll(request_interval)
        auth_errors = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        if auth_errors and failed:
            break
    producer.flush(5)

    last_delivery = max(delivered) - revoked_at
    # Cut off within connections.max.reauth.ms plus one request (and its round trip).
    assert last_delivery <= REAUTH_MS / 1000 + 2 * request_interval + 1.0, last_delivery
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert failed, "messages after the cut-off must fail, not queue forever"
    assert all(t > revoked_at for t, _ in failed)
