"""Topics, consumer groups and messages against the real cell: services, API and pages."""

import json
import threading
import time
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Topic, TopicPartitionEvent
from clusters.services import consumer_groups as groups
from clusters.services import messages as msgs
from clusters.services import topic_sync, topics
from clusters.services.clusters import ClusterSpec, cluster_create
from console.errors import PayloadTooLarge
from console.models import AuditEvent, Role
from console.services.teams import api_token_create
from fleet import limits
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually, settled


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"t{uuid.uuid4().hex[:8]}", role=Role.DEVELOPER)


@pytest.fixture
def active(cell, member, django_capture_on_commit_callbacks):
    """An ACTIVE cluster whose initial key has the admin template (key + secret)."""
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team,
            user=member.user,
            spec=ClusterSpec(name="shop", policy_template="admin"),
        )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    topics.invalidate_topic_cache()
    return created


def api_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def key_conn(cell, created):
    return gateway.KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=created.initial_key.username,
        password=created.secret,
        ca_path=cell.ca_path,
        timeout=15,
    )


def wire_topics(admin_connection, cluster):
    return sorted(
        t for t in gateway.list_topics(admin_connection) if t.startswith(cluster.wire_prefix)
    )


def test_topic_lifecycle_on_the_cell(active, admin_connection):
    cluster = active.cluster
    topic = topics.topic_create(
        cluster=cluster,
        name="orders",
        partitions=3,
        configs={"retention.ms": "3600000", "message.timestamp.difference.max.ms": "60000"},
    )
    wire = f"{cluster.wire_prefix}orders"
    assert topic.wire_name == wire
    described = settled(
        lambda: gateway.list_topics(admin_connection)[wire],
        lambda t: len(t.partitions) == 3,
        what=f"the new topic {wire}",
    )
    assert len(described.partitions) == 3 and described.replication_factor == 3
    configs = settled(
        lambda: gateway.describe_topic_configs(admin_connection, wire),
        lambda c: c["retention.ms"].value == "3600000",
        what=f"the configs of the new topic {wire}",
    )
    assert configs["retention.ms"].value == "3600000"
    assert configs["retention.bytes"].value == str(250 * 1024**3)  # platform default applied
    assert configs["message.timestamp.before.max.ms"].value == "60000"
    assert configs["message.timestamp.after.max.ms"].value == "60000"

    gateway.produce(admin_connection, wire, [(f"k{i}", f"v{i}") for i in range(12)])
    page = topics.topic_list(cluster=cluster)
    row = {r.name: r for r in page.rows}["orders"]
    assert row.partitions == 3 and row.messages == 12 and row.replication_factor == 3
    assert row.size_bytes > 0 and row.cleanup_policy == "delete"

    changed = topics.topic_alter_configs(
        cluster=cluster, name="orders", changes={"compression.type": "zstd", "retention.ms": None}
    )
    assert changed == {"compression.type": "zstd", "retention.ms": None}
    configs = settled(
        lambda: gateway.describe_topic_configs(admin_connection, wire),
        lambda c: (
            c["compression.type"].value == "zstd"
            and c["retention.ms"].source != "DYNAMIC_TOPIC_CONFIG"
        ),
        what=f"the altered configs of {wire}",
    )
    assert configs["compression.type"].value == "zstd"
    assert configs["retention.ms"].source != "DYNAMIC_TOPIC_CONFIG"  # back to the default

    topics.topic_add_partitions(cluster=cluster, name="orders", total=5)
    settled(
        lambda: gateway.list_topics(admin_connection)[wire],
        lambda t: len(t.partitions) == 5,
        what=f"5 partitions of {wire}",
    )

    detail = topics.topic_get(cluster=cluster, name="orders")
    assert [p.id for p in detail.partitions] == [0, 1, 2, 3, 4]
    assert detail.messages == 12
    assert detail.settable["compression.type"] == "zstd"
    sources = {c.name: c.source for c in detail.configs}
    assert sources["compression.type"] == "DYNAMIC_TOPIC_CONFIG"

    assert topics.topic_purge(cluster=cluster, name="orders") == 12
    offsets = gateway.list_partition_offsets(admin_connection, [(wire, p) for p in range(5)])
    assert all(o.messages == 0 for o in offsets.values())

    topics.topic_delete(cluster=cluster, name="orders")
    assert wire_topics(admin_connection, cluster) == []
    assert not Topic.objects.filter(cluster=cluster).exists()
    events = list(
        TopicPartitionEvent.objects.filter(cluster=cluster).values_list(
            "kind", "partitions_delta", "partition_count"
        )
    )
    assert events == [("created", 3, 3), ("partitions_added", 2, 5), ("deleted", -5, 0)]
    actions = set(AuditEvent.objects.filter(team=cluster.team).values_list("action", flat=True))
    assert {
        "topic.create",
        "topic.alter_configs",
        "topic.add_partitions",
        "topic.purge",
        "topic.delete",
    } <= actions


def test_bad_input_is_refused_and_changes_nothing(active, admin_connection):
    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="keep", partitions=2)
    wire = f"{cluster.wire_prefix}keep"
    before = settled(
        lambda: wire_topics(admin_connection, cluster),
        lambda names: wire in names,
        what=f"the new topic {wire}",
    )
    configs_before = settled(
        lambda: {
            k: v.value for k, v in gateway.describe_topic_configs(admin_connection, wire).items()
        },
        lambda c: c.get("retention.ms") is not None,
        what=f"the configs of the new topic {wire}",
        agreeing=3,
    )

    def refused(call, field, text):
        with pytest.raises(ValidationError) as info:
            call()
        messages = " ".join(info.value.message_dict.get(field, []))
        assert text in messages, info.value.message_dict

    too_long = "x" * (250 - len(cluster.wire_prefix))
    for bad in ["", "has space", "slash/no", "..", "ünicode", too_long]:
        refused(lambda b=bad: topics.topic_create(cluster=cluster, name=b), "name", "letters")
    refused(
        lambda: topics.topic_create(cluster=cluster, name="a", configs={"segment.bytes": "1"}),
        "configs",
        "not a topic config you can set",
    )
    refused(
        lambda: topics.topic_create(
            cluster=cluster, name="a", configs={"max.message.bytes": str(9 * 1024 * 1024)}
        ),
        "configs",
        "8,388,608",
    )
    refused(
        lambda: topics.topic_create(cluster=cluster, name="a", configs={"retention.ms": "-5"}),
        "configs",
        "retention.ms",
    )
    refused(
        lambda: topics.topic_create(cluster=cluster, name="a", configs={"cleanup.policy": "shred"}),
        "configs",
        "cleanup.policy",
    )
    refused(
        lambda: topics.topic_create(cluster=cluster, name="a", partitions=2401),
        "partitions",
        "2400",
    )
    refused(
        lambda: topics.topic_create(cluster=cluster, name="a", partitions=2399),
        "partitions",
        "limit is 2400 partitions per cluster",
    )
    refused(
        lambda: topics.topic_create(
            cluster=cluster, name="c", partitions=121, configs={"cleanup.policy": "compact"}
        ),
        "partitions",
        "120 partitions of compacted topics",
    )
    refused(lambda: topics.topic_create(cluster=cluster, name="keep"), "name", "already exists")
    refused(
        lambda: topics.topic_add_partitions(cluster=cluster, name="keep", total=1),
        "partitions",
        "cannot reduce",
    )
    refused(
        lambda: topics.topic_alter_configs(
            cluster=cluster, name="keep", changes={"cleanup.policy": "compact"}
        ),
        "configs",
        "only be set when the topic is created",
    )
    refused(
        lambda: topics.topic_alter_configs(
            cluster=cluster, name="keep", changes={"retention.bytes": "lots"}
        ),
        "configs",
        "whole number",
    )
    # A duplicate made over Kafka (not synced yet) is reported as a duplicate too.
    gateway.create_topic(admin_connection, f"{cluster.wire_prefix}raw", partitions=1)
    refused(lambda: topics.topic_create(cluster=cluster, name="raw"), "name", "already exists")
    gateway.delete_topic(admin_connection, f"{cluster.wire_prefix}raw")

    def unchanged():
        assert wire_topics(admin_connection, cluster) == before

    eventually(unchanged)
    assert len(gateway.list_topics(admin_connection)[wire].partitions) == 2
    configs_after = {
        k: v.value for k, v in gateway.describe_topic_configs(admin_connection, wire).items()
    }
    assert configs_after == configs_before
    assert TopicPartitionEvent.objects.filter(cluster=cluster).count() == 1


def test_partition_mutation_rate_limit_is_checked_before_the_broker(active, admin_connection):
    cluster = active.cluster
    TopicPartitionEvent.objects.create(
        cluster=cluster,
        topic_name="old",
        kind="created",
        partitions_delta=limits.PARTITION_MUTATIONS_PER_WINDOW - 2,
        partition_count=limits.PARTITION_MUTATIONS_PER_WINDOW - 2,
        occurred_at=timezone.now(),
        source="console",
    )
    with pytest.raises(ValidationError) as info:
        topics.topic_create(cluster=cluster, name="burst", partitions=3)
    assert "250 partition creations and deletions per 5 minutes" in str(info.value)
    assert wire_topics(admin_connection, cluster) == []


def test_consumer_group_lag_reset_refused_with_members_and_delete(active, admin_connection):
    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="events", partitions=1)
    wire = f"{cluster.wire_prefix}events"
    group_wire = f"{cluster.wire_prefix}billing"
    gateway.produce(admin_connection, wire, [f"m{i}" for i in range(10)])
    consumed = gateway.consume(admin_connection, wire, group_id=group_wire, max_messages=4)
    assert len(consumed) == 4

    rows = {g.group: g for g in groups.group_list(cluster=cluster)}
    assert rows["billing"].lag == 6 and rows["billing"].topics == ["events"]
    detail = groups.group_get(cluster=cluster, group="billing")
    assert [(p.topic, p.partition, p.committed, p.end, p.lag) for p in detail.partitions] == [
        ("events", 0, 4, 10, 6)
    ]
    assert topics.topic_get(cluster=cluster, name="events").consumer_groups[0].lag == 6

    # A live member: the reset and the delete are refused with a clear message.
    stop = threading.Event()

    def member():
        while not stop.is_set():
            gateway.consume(
                admin_connection,
                wire,
                group_id=group_wire,
                max_messages=1000,
                timeout=3,
                stop_at_end=False,
                commit=False,
            )

    thread = threading.Thread(target=member, daemon=True)
    thread.start()
    try:

        def has_member():
            d = groups.group_get(cluster=cluster, group="billing")
            assert d.members and d.members[0].assignment == (("events", 0),)
            return d

        live = eventually(has_member, timeout=20)
        assert live.members[0].client_id == "skiff-consumer"
        with pytest.raises(ValidationError) as info:
            groups.group_reset_offsets(cluster=cluster, group="billing", to="earliest")
        assert "active member" in str(info.value) and "EMPTY" in str(info.value)
        with pytest.raises(ValidationError):
            groups.group_delete(cluster=cluster, group="billing")
    finally:
        stop.set()
        thread.join(timeout=20)
    eventually(lambda: groups.group_get(cluster=cluster, group="billing").is_empty or None)
    assert gateway.list_consumer_group_offsets(admin_connection, [group_wire])[group_wire] == {
        (wire, 0): 4
    }

    assert groups.group_reset_offsets(cluster=cluster, group="billing", to="earliest") == {
        ("events", 0): 0
    }
    assert groups.group_get(cluster=cluster, group="billing").lag == 10
    groups.group_reset_offsets(
        cluster=cluster, group="billing", to="offset", topic="events", offset=7
    )
    assert groups.group_get(cluster=cluster, group="billing").lag == 3
    groups.group_reset_offsets(
        cluster=cluster, group="billing", to="timestamp", timestamp=int(time.time() * 1000) + 60_000
    )
    assert groups.group_get(cluster=cluster, group="billing").lag == 0
    with pytest.raises(ValidationError) as info:
        groups.group_reset_offsets(
            cluster=cluster, group="billing", to="offset", topic="events", offset=99
        )
    assert "outside" in str(info.value)
    groups.group_reset_offsets(cluster=cluster, group="billing", to="latest")

    groups.group_delete(cluster=cluster, group="billing")
    assert group_wire not in gateway.list_consumer_groups(admin_connection)
    actions = set(AuditEvent.objects.filter(team=cluster.team).values_list("action", flat=True))
    assert {"consumer_group.reset_offsets", "consumer_group.delete"} <= actions


def test_browse_and_produce_messages(active, admin_connection, client, member):
    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="mixed", partitions=2)
    record = msgs.message_produce(
        cluster=cluster,
        topic="mixed",
        key="user-1",
        value=json.dumps({"a": 1, "b": [1, 2]}),
        headers={"trace": "abc"},
        partition=1,
    )
    assert record.partition == 1 and record.offset == 0
    msgs.message_produce(
        cluster=cluster, topic="mixed", value="<script>alert(1)</script>", partition=0
    )
    msgs.message_produce(
        cluster=cluster, topic="mixed", value="AAEC/w==", encoding="base64", partition=0
    )
    msgs.message_produce(cluster=cluster, topic="mixed", value="x" * 20_000, partition=0)

    newest = msgs.message_browse(cluster=cluster, topic="mixed", mode="newest", limit=10)
    assert len(newest.messages) == 4
    by_offset = {(m.partition, m.offset): m for m in newest.messages}
    first = by_offset[(1, 0)]
    assert first.value.format == "json" and '"b": [' in first.value.text
    assert first.key.text == "user-1" and first.headers[0][0] == "trace"
    assert by_offset[(0, 1)].value.format == "binary"
    assert by_offset[(0, 1)].value.text == "00 01 02 ff"
    assert by_offset[(0, 2)].value.truncated and by_offset[(0, 2)].value.size == 20_000
    assert any("cut" in n for n in newest.notices)

    one = msgs.message_browse(
        cluster=cluster, topic="mixed", mode="offset", partition=0, offset=1, limit=1
    )
    assert [(m.partition, m.offset) for m in one.messages] == [(0, 1)]
    later = msgs.message_browse(
        cluster=cluster, topic="mixed", mode="timestamp", timestamp=int(time.time() * 1000) + 60_000
    )
    assert later.messages == []
    with pytest.raises(ValidationError):
        msgs.message_browse(cluster=cluster, topic="mixed", mode="offset", partition=7, offset=0)
    with pytest.raises(ValidationError):
        msgs.message_produce(cluster=cluster, topic="mixed", value="v", partition=5)
    with pytest.raises(PayloadTooLarge):  # a 413 naming the limit
        msgs.message_produce(
            cluster=cluster, topic="mixed", value="x" * (limits.MAX_MESSAGE_BYTES + 1)
        )

    client.force_login(member.user)
    page = client.get(f"/clusters/{cluster.pk}/topics/mixed/messages/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "truncated" in html


def test_topic_sync_imports_topics_made_over_kafka(active, cell, admin_connection, member):
    cluster = active.cluster
    conn = key_conn(cell, active)
    wire = f"{cluster.wire_prefix}from-client"
    eventually(lambda: gateway.create_topic(conn, wire, partitions=2), timeout=15)
    api = api_for(member)
    topics.invalidate_topic_cache()

    # The periodic job; a broker may serve metadata a moment before it knows the new topic.
    created = []

    def synced():
        created.extend(topic_sync.sync_all_topics()[cluster.pk].created)
        assert created == ["from-client"]

    eventually(synced)
    assert topics.sync_topics(cluster=cluster).changed is False  # idempotent
    body = api.get(f"/api/v1/clusters/{cluster.pk}/topics/?search=from").json()
    assert [r["name"] for r in body["results"]] == ["from-client"]
    assert body["results"][0]["cleanup_policy"] == "delete"
    row = Topic.objects.get(cluster=cluster, name="from-client")
    assert row.origin == "kafka" and row.partitions == 2

    gateway.create_partitions(conn, wire, total=4)
    grown, deleted = [], []

    def synced_growth():
        grown.extend(topics.sync_topics(cluster=cluster).grown)
        assert grown == ["from-client"]

    eventually(synced_growth)
    gateway.delete_topic(conn, wire)

    def synced_deletion():
        deleted.extend(topics.sync_topics(cluster=cluster).deleted)
        assert deleted == ["from-client"]

    eventually(synced_deletion)
    assert topics.sync_topics(cluster=cluster).changed is False
    events = list(
        TopicPartitionEvent.objects.filter(cluster=cluster).values_list(
            "kind", "partitions_delta", "partition_count", "source"
        )
    )
    assert events == [
        ("created", 2, 2, "kafka"),
        ("partitions_added", 2, 4, "kafka"),
        ("deleted", -4, 0, "kafka"),
    ]
    # The periodic schedule runs it well within a minute.
    from console.periodic import PERIODIC_TASKS

    sync = [t for t in PERIODIC_TASKS if t.name == "clusters.tasks.sync_topics_task"]
    assert sync and sync[0].every_seconds <= 60


def test_api_end_to_end_and_errors(active, admin_connection, member):
    cluster = active.cluster
    api = api_for(member)
    base = f"/api/v1/clusters/{cluster.pk}"
    created = api.post(
        f"{base}/topics/",
        {"name": "payments", "partitions": 2, "configs": {"retention.ms": "86400000"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["wire_name"] == f"{cluster.wire_prefix}payments"
    for name in ("b-topic", "a-topic"):
        assert (
            api.post(f"{base}/topics/", {"name": name, "partitions": 1}, format="json").status_code
            == 201
        )

    listing = api.get(f"{base}/topics/?ordering=-partitions&page_size=2").json()
    assert listing["count"] == 3 and listing["pages"] == 2
    assert listing["results"][0]["name"] == "payments"
    assert (
        api.get(f"{base}/topics/?search=topic&ordering=name").json()["results"][0]["name"]
        == "a-topic"
    )
    assert api.get(f"{base}/topics/?ordering=bogus").status_code == 400

    bad = api.post(f"{base}/topics/", {"name": "x", "configs": {"flush.ms": "1"}}, format="json")
    assert bad.status_code == 400 and "configs" in bad.json()
    assert api.post(f"{base}/topics/", {"name": "payments"}, format="json").status_code == 400

    patched = api.patch(
        f"{base}/topics/payments/", {"configs": {"max.message.bytes": "2097152"}}, format="json"
    )
    assert (
        patched.status_code == 200
        and patched.json()["settable_configs"]["max.message.bytes"] == "2097152"
    )
    grown = api.post(f"{base}/topics/payments/partitions/", {"count": 4}, format="json")
    assert grown.status_code == 200 and len(grown.json()["partitions"]) == 4
    assert (
        api.post(f"{base}/topics/payments/partitions/", {"count": 2}, format="json").status_code
        == 400
    )

    produced = api.post(
        f"{base}/topics/payments/messages/",
        {"key": "k", "value": "hello", "headers": {"h": "v"}, "partition": 3},
        format="json",
    )
    assert produced.status_code == 201 and produced.json()["partition"] == 3
    browsed = api.get(f"{base}/topics/payments/messages/?mode=newest&limit=5").json()
    assert browsed["messages"][0]["value"]["text"] == "hello"
    assert browsed["messages"][0]["headers"] == [
        {
            "name": "h",
            "value": {"format": "text", "text": "v", "base64": None, "size": 1, "truncated": False},
        }
    ]
    assert api.post(f"{base}/topics/payments/purge/").json() == {"purged_messages": 1}

    group_wire = f"{cluster.wire_prefix}readers"
    gateway.produce(
        admin_connection, f"{cluster.wire_prefix}payments", ["a", "b", "c"], partition=0
    )
    gateway.consume(
        admin_connection, f"{cluster.wire_prefix}payments", group_id=group_wire, max_messages=1
    )
    assert api.get(f"{base}/consumer-groups/").json()["results"][0]["group"] == "readers"
    group = api.get(f"{base}/consumer-groups/readers/").json()
    assert group["lag"] == 2 and group["members"] == []
    reset = api.post(
        f"{base}/consumer-groups/readers/reset-offsets/", {"to": "latest"}, format="json"
    )
    assert reset.status_code == 200 and reset.json()["offsets"] == [
        {"topic": "payments", "partition": 0, "offset": 3}
    ]
    assert api.get(f"{base}/consumer-groups/nope/").status_code == 404
    assert api.delete(f"{base}/consumer-groups/readers/").status_code == 204

    assert api.get(f"{base}/topics/missing/").status_code == 404
    assert api.delete(f"{base}/topics/payments/").status_code == 204

    def gone():
        assert f"{cluster.wire_prefix}payments" not in gateway.list_topics(admin_connection)

    eventually(gone)

    # Another team sees a 404; a viewer may read but not change.
    outsider = MembershipFactory(team__slug=f"o{uuid.uuid4().hex[:8]}")
    assert api_for(outsider).get(f"{base}/topics/").status_code == 404
    viewer = MembershipFactory(team=member.team, role=Role.VIEWER)
    assert api_for(viewer).get(f"{base}/topics/").status_code == 200
    assert api_for(viewer).post(f"{base}/topics/", {"name": "v"}, format="json").status_code == 403
    assert api_for(viewer).get(f"{base}/topics/a-topic/messages/").status_code == 403

    schema = api.get("/api/schema/").content.decode()
    for path in (
        "/api/v1/clusters/{id}/topics/",
        "/api/v1/clusters/{id}/topics/{name}/",
        "/api/v1/clusters/{id}/topics/{name}/partitions/",
        "/api/v1/clusters/{id}/topics/{name}/purge/",
        "/api/v1/clusters/{id}/topics/{name}/messages/",
        "/api/v1/clusters/{id}/consumer-groups/",
        "/api/v1/clusters/{id}/consumer-groups/{group}/",
        "/api/v1/clusters/{id}/consumer-groups/{group}/reset-offsets/",
    ):
        assert path in schema, path


def test_pages(active, admin_connection, client, member):
    cluster = active.cluster
    client.force_login(member.user)
    base = f"/clusters/{cluster.pk}"
    assert "No topics yet" in client.get(f"{base}/topics/").content.decode()
    form = client.get(f"{base}/topics/new/").content.decode()
    assert "Default 6" in form and "4 weeks" in form and "8,388,608" in form

    bad = client.post(f"{base}/topics/new/", {"name": "bad name", "partitions": "6"})
    assert bad.status_code == 400 and "letters, digits" in bad.content.decode()
    ok = client.post(
        f"{base}/topics/new/",
        {"name": "clicks", "partitions": "2", "retention_preset": "3600000"},
    )
    assert ok.status_code == 302
    wire = f"{cluster.wire_prefix}clicks"
    settled(
        lambda: gateway.describe_topic_configs(admin_connection, wire),
        lambda c: c["retention.ms"].value == "3600000",
        what=f"retention.ms of the new topic {wire}",
    )

    listing = client.get(f"{base}/topics/?search=cli", HTTP_HX_REQUEST="true")
    assert listing.status_code == 200 and "clicks" in listing.content.decode()
    assert "<html" not in listing.content.decode()  # the fragment only
    detail = client.get(f"{base}/topics/clicks/").content.decode()
    assert "Danger zone" in detail and "DYNAMIC_TOPIC_CONFIG" in detail

    assert client.post(f"{base}/topics/clicks/partitions/", {"partitions": "3"}).status_code == 302
    wrong = client.post(f"{base}/topics/clicks/delete/", {"confirm_name": "click"})
    assert wrong.status_code == 400 and "exactly" in wrong.content.decode()
    assert wire in gateway.list_topics(admin_connection)
    assert (
        client.post(f"{base}/topics/clicks/delete/", {"confirm_name": "clicks"}).status_code == 302
    )

    def gone():
        assert wire not in gateway.list_topics(admin_connection)

    eventually(gone)
    assert client.get(f"{base}/consumer-groups/").status_code == 200
