"""The gateway against a real 3-node cell: TLS, SCRAM, ACL isolation, topics, quotas."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from fleet.kafka.connection import KafkaConnection
from fleet.kafka.types import AclBinding
from fleet.runtime import certs
from fleet.runtime.launcher import CellInfo
from tests.fleet.kafka import gateway as gw

from .util import eventually, settled, unique

TENANT_OPS = ("WRITE", "READ", "DESCRIBE", "CREATE")


def _tenant_acls(user: str, prefix: str) -> list[AclBinding]:
    principal = f"User:{user}"
    bindings = [
        AclBinding("TOPIC", prefix, "PREFIXED", principal, "*", op, "ALLOW") for op in TENANT_OPS
    ]
    bindings.append(AclBinding("GROUP", prefix, "PREFIXED", principal, "*", "READ", "ALLOW"))
    return bindings


def _as(cell: CellInfo, user: str, password: str, timeout: float = 10.0) -> KafkaConnection:
    return KafkaConnection(cell.bootstrap, user, password, cell.ca_path, timeout=timeout)


def test_admin_connects_over_sasl_ssl_verifying_the_platform_ca(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    described = gw.describe_cluster(admin_connection)

    assert described.cluster_id == kafka_cell.cluster_id
    assert [b.node_id for b in described.brokers] == [1, 2, 3]
    assert {(b.host, b.port) for b in described.brokers} == {
        ("127.0.0.1", n.client_port) for n in kafka_cell.nodes
    }
    assert described.controller_id in (1, 2, 3)


def test_client_with_another_ca_refuses_the_brokers(
    kafka_cell: CellInfo, admin_connection: KafkaConnection, tmp_path: Path
) -> None:
    foreign_ca = certs.create_ca(tmp_path / "other-ca", common_name="Not the platform CA")
    conn = replace(admin_connection, ca_path=foreign_ca.cert_path, timeout=10.0)

    started = time.monotonic()
    with pytest.raises(gw.KafkaTlsError) as caught:
        gw.describe_cluster(conn)
    assert time.monotonic() - started < 5, "TLS failures must not wait for the timeout"
    assert "TLS" in caught.value.message


def test_wrong_password_is_refused_quickly(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    conn = replace(admin_connection, password="not-the-password", timeout=10.0)

    for call in (
        lambda: gw.describe_cluster(conn),
        lambda: gw.list_topics(conn),
        lambda: gw.produce(conn, "anything", [b"x"]),
        lambda: gw.consume(conn, "anything", group_id="g", max_messages=1),
    ):
        started = time.monotonic()
        with pytest.raises(gw.KafkaAuthenticationFailed) as caught:
            call()
        assert time.monotonic() - started < 5
        assert "authentication failed" in caught.value.message


def test_unknown_user_and_unauthenticated_clients_are_refused(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    with pytest.raises(gw.KafkaAuthenticationFailed):
        gw.describe_cluster(replace(admin_connection, username="nobody", timeout=10.0))

    # TLS without SASL: the broker answers nothing but the SASL handshake and hangs up.
    anonymous = KafkaConnection(
        kafka_cell.bootstrap, None, None, kafka_cell.ca_path, timeout=2.0, security_protocol="SSL"
    )
    with pytest.raises(gw.KafkaGatewayError):
        gw.list_topics(anonymous)
    # Plain TCP to a TLS listener.
    plaintext = replace(anonymous, security_protocol="PLAINTEXT", ca_path=None)
    with pytest.raises(gw.KafkaGatewayError):
        gw.describe_cluster(plaintext)


def test_tenant_is_confined_to_its_prefix(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    team = unique("acme")
    prefix = f"{team}.demo."
    user, password = unique("key-"), "tenant-secret-" + unique("")
    other_topic = f"{team}.other.x"
    orders = f"{prefix}orders"
    bindings = _tenant_acls(user, prefix)

    gw.create_scram_user(admin_connection, user, password)
    gw.create_acls(admin_connection, bindings)
    gw.create_topic(admin_connection, other_topic, partitions=1)
    try:
        assert user in gw.list_scram_users(admin_connection)
        assert sorted(bindings) == gw.describe_acls(admin_connection, f"User:{user}")

        tenant = _as(kafka_cell, user, password)
        # CREATE on the prefix lets the tenant make its own topics…
        eventually(lambda: gw.create_topic(tenant, orders, partitions=2))
        sent = [(b"k1", b"first"), (b"k2", b"second"), b"third"]
        assert eventually(lambda: gw.produce(tenant, orders, sent)) == 3
        received = gw.consume(tenant, orders, group_id=f"{prefix}app", max_messages=10)
        assert sorted(m.value for m in received) == [b"first", b"second", b"third"]
        assert {m.key for m in received} == {b"k1", b"k2", None}
        # …and sees nothing outside it.
        assert set(gw.list_topics(tenant)) == {orders}

        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.produce(tenant, other_topic, [b"nope"])
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.create_topic(tenant, f"{team}.other.y", partitions=1)
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.consume(tenant, orders, group_id=f"{team}.other.group", max_messages=1)
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.create_scram_user(tenant, unique("evil-"), "password-of-evil")
    finally:
        assert gw.delete_acls(admin_connection, bindings) == len(bindings)
        assert gw.revoke_scram_user(admin_connection, user) is True
        gw.delete_topic(admin_connection, other_topic)
        gw.delete_topic(admin_connection, orders, missing_ok=True)

    assert gw.describe_acls(admin_connection, f"User:{user}") == []

    # A revoked key cannot open new connections (producers are never cached by the gateway).
    def refused() -> None:
        with pytest.raises(gw.KafkaAuthenticationFailed):
            gw.produce(_as(kafka_cell, user, password), orders, [b"x"])

    eventually(refused, timeout=5)


def test_topic_lifecycle_and_errors(admin_connection: KafkaConnection) -> None:
    name = unique("skiff.test.lifecycle-")
    gw.create_topic(admin_connection, name, partitions=2, configs={"retention.ms": "3600000"})
    try:
        topic = settled(
            lambda: gw.list_topics(admin_connection)[name],
            lambda t: all(len(p.isr) == 3 for p in t.partitions),
            what=f"topic {name} with every replica in sync",
        )
        assert [p.id for p in topic.partitions] == [0, 1]
        assert topic.replication_factor == 3  # the cell default with 3 brokers
        assert all(len(p.isr) == 3 and p.leader in p.replicas for p in topic.partitions)

        with pytest.raises(gw.TopicAlreadyExists):
            gw.create_topic(admin_connection, name, partitions=1)
        with pytest.raises(gw.InvalidKafkaRequest):
            gw.create_topic(admin_connection, "bad name!", partitions=1)
        with pytest.raises(gw.InvalidKafkaRequest):
            gw.create_topic(
                admin_connection,
                unique("skiff.test.cfg-"),
                partitions=1,
                configs={"retention.ms": "soon"},
            )
        with pytest.raises(gw.UnknownTopic):
            gw.produce(admin_connection, unique("skiff.test.absent-"), [b"x"], timeout=5)
        with pytest.raises(gw.InvalidKafkaRequest):
            gw.create_topic(
                admin_connection, unique("skiff.test.rf-"), partitions=1, replication_factor=5
            )

        configs = settled(
            lambda: gw.describe_topic_configs(admin_connection, name),
            lambda c: c["retention.ms"].value == "3600000",
            what=f"the configs of the new topic {name}",
        )
        assert configs["retention.ms"].value == "3600000"
        assert configs["retention.ms"].source == "DYNAMIC_TOPIC_CONFIG"
        assert configs["min.insync.replicas"].value == "2"
        gw.alter_topic_configs(
            admin_connection, name, {"retention.ms": None, "cleanup.policy": "compact"}
        )
        configs = settled(
            lambda: gw.describe_topic_configs(admin_connection, name),
            lambda c: c["retention.ms"].is_default and c["cleanup.policy"].value == "compact",
            what=f"the altered configs of {name}",
        )
        assert configs["retention.ms"].is_default
        assert configs["cleanup.policy"].value == "compact"

        gw.create_partitions(admin_connection, name, total=4)
        settled(
            lambda: gw.list_topics(admin_connection)[name],
            lambda t: len(t.partitions) == 4,
            what=f"4 partitions of {name}",
        )
    finally:
        assert gw.delete_topic(admin_connection, name) is True
    assert eventually(lambda: _absent(admin_connection, name))
    with pytest.raises(gw.UnknownTopic):
        gw.delete_topic(admin_connection, name)
    assert gw.delete_topic(admin_connection, name, missing_ok=True) is False


def _absent(conn: KafkaConnection, name: str) -> bool:
    assert name not in gw.list_topics(conn)
    return True


def test_removing_or_revoking_an_unknown_user_is_idempotent(
    admin_connection: KafkaConnection,
) -> None:
    # (Only unknown users here: a real removal can break the cell on restart, see gateway.)
    user = unique("gone-")
    assert gw.delete_scram_user(admin_connection, user) is False
    with pytest.raises(gw.UnknownUser):
        gw.delete_scram_user(admin_connection, user, missing_ok=False)
    assert gw.revoke_scram_user(admin_connection, user) is False
    with pytest.raises(gw.UnknownUser):
        gw.revoke_scram_user(admin_connection, user, missing_ok=False)


def test_password_change_takes_effect(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    user = unique("rotate-")
    gw.create_scram_user(admin_connection, user, "first-password-1234")
    try:
        old = _as(kafka_cell, user, "first-password-1234")
        new = _as(kafka_cell, user, "second-password-5678")
        eventually(lambda: gw.describe_cluster(old))
        gw.create_scram_user(admin_connection, user, "second-password-5678")  # upsert
        eventually(lambda: gw.describe_cluster(new))
        gw.close_clients()  # the cached admin client of `old` is still authenticated
        with pytest.raises(gw.KafkaAuthenticationFailed):
            gw.describe_cluster(old)
    finally:
        gw.revoke_scram_user(admin_connection, user)


def test_user_quotas_round_trip(admin_connection: KafkaConnection) -> None:
    user = unique("quota-")

    def quotas_become(expected: dict, what: str) -> None:
        # An altered quota reaches each broker's metadata a moment after the controller
        # acknowledged it; the describe may be answered by another broker (seen under the hog).
        settled(
            lambda: gw.describe_user_quotas(admin_connection, user),
            lambda found: found == expected,
            what=what,
        )

    gw.alter_user_quotas(
        admin_connection, user, {"producer_byte_rate": 1048576, "consumer_byte_rate": 2097152.0}
    )
    try:
        quotas_become(
            {user: {"producer_byte_rate": 1048576.0, "consumer_byte_rate": 2097152.0}},
            "both quotas set",
        )
        assert user in gw.describe_user_quotas(admin_connection)
        gw.alter_user_quotas(admin_connection, user, {"producer_byte_rate": None})
        quotas_become({user: {"consumer_byte_rate": 2097152.0}}, "the producer quota removed")
        with pytest.raises(gw.InvalidKafkaRequest):
            gw.alter_user_quotas(admin_connection, user, {"bogus_rate": 1.0})
    finally:
        gw.alter_user_quotas(admin_connection, user, {"consumer_byte_rate": None})
    quotas_become({}, "every quota removed")


def test_acl_binding_validates_its_fields() -> None:
    with pytest.raises(ValueError):
        AclBinding("TOPIC", "x", "MATCH", "User:a")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AclBinding("TOPIC", "x", "LITERAL", "alice")
    with pytest.raises(ValueError):
        AclBinding("TOPIC", "x", "LITERAL", "User:a", operation="EXPLODE")
