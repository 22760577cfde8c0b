"""The local cell itself: hardening read back from the brokers, metrics, restarts, failures."""

from __future__ import annotations

import stat
import time
from dataclasses import replace

import pytest

from fleet.kafka.connection import KafkaConnection
from fleet.runtime.launcher import CellInfo, LocalCell
from tests.fleet.kafka import gateway as gw
from tests.fleet.kafka.util import eventually, scrape, settled, topic_counter, unique

BYTES_IN = "kafka_server_brokertopicmetrics_bytesinpersec_total"
MESSAGES_IN = "kafka_server_brokertopicmetrics_messagesinpersec_total"


def test_broker_configs_are_hardened(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    for node in kafka_cell.nodes:
        configs = gw.describe_broker_configs(admin_connection, node.node_id)
        value = {name: entry.value for name, entry in configs.items()}
        assert value["auto.create.topics.enable"] == "false"
        assert value["authorizer.class.name"] == (
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        )
        assert value["min.insync.replicas"] == "2"
        assert value["default.replication.factor"] == "3"
        assert value["offsets.topic.replication.factor"] == "3"
        assert value["transaction.state.log.min.isr"] == "2"
        assert value["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
        assert value["sasl.mechanism.controller.protocol"] == "PLAIN"
        protocols = value["listener.security.protocol.map"]
        assert "PLAINTEXT" not in protocols.replace("SASL_PLAINTEXT", "")
        # Authorizer settings are not KafkaConfig keys, so DescribeConfigs masks them as
        # sensitive; the authorizer states its effective settings in the broker log instead.
        for hidden in ("allow.everyone.if.no.acl.found", "super.users"):
            assert configs[hidden].is_sensitive and configs[hidden].value is None
            assert configs[hidden].source == "STATIC_BROKER_CONFIG"
        log = (kafka_cell.state_dir / f"node-{node.node_id}" / "logs" / "server.log").read_text()
        assert (
            f"[StandardAuthorizer {node.node_id}] set super.users=User:admin,User:controller, "
            "default result=DENIED"
        ) in log


def test_a_user_without_acls_is_denied_everything(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    """allow.everyone.if.no.acl.found=false, observed: no ACL means no access."""
    topic = unique("skiff.test.noacl-")
    user, password = unique("noacl-"), unique("password-")
    gw.create_topic(admin_connection, topic, partitions=1)
    gw.create_scram_user(admin_connection, user, password)
    try:
        conn = KafkaConnection(kafka_cell.bootstrap, user, password, kafka_cell.ca_path, timeout=10)
        assert eventually(lambda: gw.list_topics(conn)) == {}
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.produce(conn, topic, [b"x"])
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.consume(conn, topic, group_id=unique("g-"), max_messages=1)
        # Cluster-level reads: the gateway must raise, not return an empty answer or crash.
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.describe_acls(conn)
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.list_scram_users(conn)
        with pytest.raises(gw.KafkaAuthorizationFailed):
            gw.describe_user_quotas(conn)
    finally:
        gw.revoke_scram_user(admin_connection, user)
        gw.delete_topic(admin_connection, topic)


def test_cell_state_is_private(kafka_cell: CellInfo) -> None:
    root = kafka_cell.state_dir
    secret_files = [root / "cell.json", root / "tls" / "ca-key.pem"]
    for node in kafka_cell.nodes:
        node_dir = root / f"node-{node.node_id}"
        secret_files += [node_dir / "node.properties", node_dir / "tls" / "keystore.pem"]
        assert stat.S_IMODE(node_dir.stat().st_mode) == 0o700
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_up_again_returns_the_running_cell(
    kafka_local_cell: LocalCell, kafka_cell: CellInfo
) -> None:
    started = time.monotonic()
    again = kafka_local_cell.up(nodes=3)
    assert time.monotonic() - started < 3
    assert again.cluster_id == kafka_cell.cluster_id
    assert again.bootstrap == kafka_cell.bootstrap
    assert again.admin_password == kafka_cell.admin_password
    assert [n.pid for n in again.nodes] == [n.pid for n in kafka_cell.nodes]


def test_every_broker_exposes_growing_per_topic_counters(
    kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    topic = unique("skiff.test.metrics-")
    gw.create_topic(admin_connection, topic, partitions=3)
    try:
        layout = settled(
            lambda: gw.list_topics(admin_connection)[topic],
            lambda t: all(p.leader >= 0 for p in t.partitions),
            what=f"leaders of the new topic {topic}",
        )
        leaders = {p.id: p.leader for p in layout.partitions}
        # The per-topic series come from each node's own endpoint (issue 20), not the exporter.
        before = {
            n.node_id: scrape(n.topic_metrics_url, kafka_cell.metrics_auth)
            for n in kafka_cell.nodes
        }

        payload = [b"x" * 100] * 5
        for partition in leaders:
            assert gw.produce(admin_connection, topic, payload, partition=partition) == 5

        for node in kafka_cell.nodes:
            if node.node_id not in leaders.values():
                continue  # a broker only counts bytes of the partitions it leads

            def grew(node=node) -> None:
                after = scrape(node.topic_metrics_url, kafka_cell.metrics_auth)
                b_old = topic_counter(before[node.node_id], BYTES_IN, topic)
                assert topic_counter(after, BYTES_IN, topic) >= b_old + 500
                m_old = topic_counter(before[node.node_id], MESSAGES_IN, topic)
                assert topic_counter(after, MESSAGES_IN, topic) >= m_old + 5

            eventually(grew)
        assert set(leaders.values()) == {1, 2, 3}, "3 partitions spread over 3 brokers"

        samples = scrape(kafka_cell.nodes[0].topic_metrics_url, kafka_cell.metrics_auth)
        sizes = {
            labels: value
            for (name, labels), value in samples.items()
            if name == "kafka_log_size_bytes" and dict(labels).get("topic") == topic
        }
        # every broker hosts a replica of every partition (RF 3)
        assert {dict(labels)["partition"] for labels in sizes} == {"0", "1", "2"}
    finally:
        gw.delete_topic(admin_connection, topic)


def test_produce_with_acks_all_survives_one_broker_down(
    kafka_local_cell: LocalCell, kafka_cell: CellInfo, admin_connection: KafkaConnection
) -> None:
    topic = unique("skiff.test.failover-")
    gw.create_topic(admin_connection, topic, partitions=3)
    victim = 3
    # Key churn before the restart, as in production: the restarted broker must still accept
    # every remaining credential (Kafka 4.3.1 loses them all after some removals; the platform
    # revokes instead — see gateway.revoke_scram_user).
    keeper, churned = unique("keeper-"), unique("churned-")
    gw.create_scram_user(admin_connection, keeper, "keeper-password-123")
    gw.create_scram_user(admin_connection, churned, "churned-password-123")
    gw.revoke_scram_user(admin_connection, churned)
    try:
        kafka_local_cell.stop_node(victim)
        status = kafka_local_cell.status()
        assert status is not None
        assert [n.alive for n in status.nodes] == [True, True, False]

        # 2 in-sync replicas remain = min.insync.replicas: acks=all still succeeds.
        produced = eventually(
            lambda: gw.produce(admin_connection, topic, [b"a", b"b", b"c"], acks="all"),
            timeout=30,
        )
        assert produced == 3
        read = gw.consume(admin_connection, topic, group_id=unique("failover-"), max_messages=3)
        assert len(read) == 3
    finally:
        restarted = kafka_local_cell.start_node(victim, timeout=120)
        assert restarted.running
        gw.delete_topic(admin_connection, topic, missing_ok=True)
    assert len(gw.describe_cluster(admin_connection).brokers) == 3
    # Log in on the restarted broker itself (its own bootstrap only).
    node = restarted.nodes[victim - 1]
    only_victim = replace(admin_connection, bootstrap=node.client_address, timeout=10)
    assert gw.describe_cluster(only_victim).cluster_id == kafka_cell.cluster_id
    keeper_conn = replace(only_victim, username=keeper, password="keeper-password-123")
    assert gw.describe_cluster(keeper_conn).cluster_id == kafka_cell.cluster_id
    gw.revoke_scram_user(admin_connection, keeper)
