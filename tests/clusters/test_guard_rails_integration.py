"""Issue 13's console-side guard rails against the real cell: config drift repair, the
per-cluster partition ceiling (DENY bindings while over), deletion past the mutation budget,
and admission by the cell's partition budget."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clusters.models import Topic, TopicPartitionEvent
from clusters.services import topic_sync, topics
from clusters.services.access.reconcile import CEILING_DENIED
from clusters.services.capacity import cell_free_partitions, check_fleet_room_for_cluster
from clusters.services.clusters import ClusterSpec, cluster_create
from console.errors import ServiceUnavailable
from console.models import AuditEvent, Role
from fleet import limits
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually, settled


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"g{uuid.uuid4().hex[:8]}", role=Role.DEVELOPER)


@pytest.fixture
def active(cell, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team,
            user=member.user,
            spec=ClusterSpec(name="guarded", policy_template="admin"),
        )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    topics.invalidate_topic_cache()
    return created


@pytest.fixture
def unguarded_active(unguarded_kafka_cell, member, django_capture_on_commit_callbacks):
    """A cluster on a cell registered without the broker policies (the only cell recorded)."""
    from fleet.services.cells import cell_record_local

    cell_record_local(unguarded_kafka_cell)
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team,
            user=member.user,
            spec=ClusterSpec(name="guarded", policy_template="admin"),
        )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    topics.invalidate_topic_cache()
    return created


def dynamic_configs(admin_connection, wire):
    return {
        name: entry.value
        for name, entry in gateway.describe_topic_configs(admin_connection, wire).items()
        if entry.source == "DYNAMIC_TOPIC_CONFIG"
    }


def test_drift_outside_the_settable_table_is_repaired_and_audited(
    unguarded_active, unguarded_kafka_cell
):
    # The brokers' topic policies would refuse the drift below: this cell runs without them.
    cluster = unguarded_active.cluster
    admin_connection = unguarded_kafka_cell.admin_connection(timeout=20.0)
    topics.topic_create(
        cluster=cluster,
        name="payments",
        partitions=2,
        configs={"retention.ms": "3600000", "max.message.bytes": "2000000"},
    )
    wire = f"{cluster.wire_prefix}payments"
    # The platform alters the topic behind the console's back, as a tenant key could on a cell
    # registered without the broker policy.
    gateway.alter_topic_configs(
        admin_connection,
        wire,
        {
            "segment.ms": "1",
            "min.insync.replicas": "1",
            "max.message.bytes": "104857600",
            "retention.bytes": "-2",  # out of range: back to the platform default (250 GiB)
            "cleanup.policy": "compact",  # create-only: back to what the topic was made with
        },
    )

    def drifted():
        assert dynamic_configs(admin_connection, wire)["segment.ms"] == "1"

    eventually(drifted, timeout=15)

    # One pass of the periodic sync (a broker may answer with the old configs for a moment).
    def repaired():
        topic_sync.sync_all_topics()
        current = dynamic_configs(admin_connection, wire)
        assert "segment.ms" not in current
        assert "min.insync.replicas" not in current
        assert "max.message.bytes" not in current
        assert current["retention.bytes"] == str(250 * 1024**3)
        assert current["cleanup.policy"] == "delete"
        assert current["retention.ms"] == "3600000"  # legal settings are kept

    eventually(repaired, timeout=30, interval=1.0)
    records = AuditEvent.objects.filter(team=cluster.team, action="topic.config_repair")
    repaired_configs = {}
    for record in records:
        assert record.target_repr == wire
        repaired_configs.update(record.before)
    assert repaired_configs["segment.ms"] == "1"
    assert repaired_configs["min.insync.replicas"] == "1"
    assert repaired_configs["max.message.bytes"] == "104857600"
    # A clean topic is left alone: a further pass repairs nothing.
    count = records.count()
    topic_sync.sync_all_topics()
    assert AuditEvent.objects.filter(action="topic.config_repair").count() == count


def test_throttled_replica_lists_are_left_alone_only_while_a_fleet_operation_runs(
    active, cell, admin_connection
):
    """Issue 14: a rebalance sets the throttled-replica lists on the topics it moves; the drift
    repair leaves them to it while the cell has an active operation and removes them after."""
    from fleet.models import FleetOperation

    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="moving", partitions=1, configs={})
    wire = f"{cluster.wire_prefix}moving"
    lists = {
        "leader.replication.throttled.replicas": "0:1,0:2",
        "follower.replication.throttled.replicas": "0:3",
    }
    gateway.alter_topic_configs(admin_connection, wire, lists)
    eventually(lambda: _assert_has(dynamic_configs(admin_connection, wire), lists), timeout=15)
    op = FleetOperation.objects.create(
        cell=cell, kind="rebalance", mode="full", state=FleetOperation.State.RUNNING
    )
    topic_sync.sync_all_topics()
    _assert_has(dynamic_configs(admin_connection, wire), lists)
    assert not AuditEvent.objects.filter(action="topic.config_repair").exists()

    op.state = FleetOperation.State.SUCCEEDED
    op.save()

    def repaired():
        topic_sync.sync_all_topics()
        assert not set(lists) & set(dynamic_configs(admin_connection, wire))

    eventually(repaired, timeout=30, interval=1.0)
    assert AuditEvent.objects.filter(team=cluster.team, action="topic.config_repair").exists()


def _assert_has(current, expected):
    for key, value in expected.items():
        assert current.get(key) == value, (key, current.get(key))


def key_acl_denies(admin_connection, key):
    return {
        (b.resource_type, b.operation)
        for b in gateway.describe_acls(admin_connection, key.principal)
        if b.permission == "DENY"
    }


def test_cluster_over_its_partition_limit_is_denied_create_and_alter(
    active, admin_connection, monkeypatch, client, member
):
    cluster = active.cluster
    key = active.initial_key
    topics.topic_create(cluster=cluster, name="a", partitions=3)
    # A smaller limit stands for 2,400 partitions made over the Kafka protocol.
    monkeypatch.setattr(limits, "MAX_PARTITIONS", 2)
    topic_sync.sync_all_topics()
    cluster.refresh_from_db()
    assert cluster.partitions_over_limit_since is not None

    def denied():
        assert key_acl_denies(admin_connection, key) == set(CEILING_DENIED)

    eventually(denied, timeout=15)
    assert AuditEvent.objects.filter(
        team=cluster.team, action="cluster.partition_limit_exceeded"
    ).exists()
    client.force_login(member.user)
    page = client.get(f"/clusters/{cluster.pk}/").content.decode()
    assert "Over the partition limit" in page

    # The key itself is refused by the broker (ACLs reach every broker within moments).
    conn = gateway.KafkaConnection(
        bootstrap=cluster.cell.bootstrap_servers,
        username=key.username,
        password=active.secret,
        ca_path=cluster.cell.ca_path,
        timeout=15,
    )

    def refused():
        with pytest.raises(gateway.KafkaGatewayError):
            gateway.create_topic(conn, f"{cluster.wire_prefix}more", partitions=1)

    eventually(refused, timeout=15)

    # Back under the limit: the DENY bindings go, the key may create again.
    topics.topic_delete(cluster=cluster, name="a")
    topic_sync.sync_all_topics()
    cluster.refresh_from_db()
    assert cluster.partitions_over_limit_since is None

    def allowed():
        assert key_acl_denies(admin_connection, key) == set()

    eventually(allowed, timeout=15)
    assert AuditEvent.objects.filter(
        team=cluster.team, action="cluster.partition_limit_ok"
    ).exists()


def test_delete_is_allowed_past_the_mutation_budget(active, admin_connection):
    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="big", partitions=4)
    TopicPartitionEvent.objects.create(
        cluster=cluster,
        topic_name="old",
        kind="created",
        partitions_delta=limits.PARTITION_MUTATIONS_PER_WINDOW,
        partition_count=limits.PARTITION_MUTATIONS_PER_WINDOW,
        occurred_at=timezone.now(),
        source="kafka",
    )
    topics.topic_delete(cluster=cluster, name="big")
    assert not Topic.objects.filter(cluster=cluster, name="big").exists()
    # The controller has deleted it; each broker learns so from the metadata log a moment later.
    settled(
        lambda: gateway.list_topics(admin_connection),
        lambda names: f"{cluster.wire_prefix}big" not in names,
        what="the deleted topic gone",
    )


def test_partitions_beyond_the_cells_budget_are_refused(active, admin_connection, settings, member):
    cluster = active.cluster
    cell = cluster.cell
    # 3 brokers x 10 replicas = 30 replicas = 10 partitions at RF 3.
    settings.SKIFF_PARTITIONS_PER_BROKER = 10
    topics.topic_create(cluster=cluster, name="fits", partitions=4)
    assert cell_free_partitions(cell) == 6
    with pytest.raises(ValidationError) as info:
        topics.topic_create(cluster=cluster, name="too-big", partitions=7)
    assert "room for 6 more partitions" in str(info.value)
    assert f"{cluster.wire_prefix}too-big" not in gateway.list_topics(admin_connection)
    with pytest.raises(ValidationError):
        topics.topic_add_partitions(cluster=cluster, name="fits", total=11)
    # A cell without room for one default topic takes no new cluster.
    topics.topic_create(cluster=cluster, name="rest", partitions=1)
    with pytest.raises(ServiceUnavailable) as full:
        check_fleet_room_for_cluster()
    assert "partition capacity" in full.value.message
    with pytest.raises(ServiceUnavailable):
        cluster_create(team=member.team, user=member.user, spec=ClusterSpec(name="another"))
