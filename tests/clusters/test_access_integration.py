"""Keys, policies, reconciler, quotas and allow-list against the real cell."""

import time

import pytest
from django.core.exceptions import ValidationError

from clusters.models import AccessKey
from clusters.services.access.keys import (
    access_key_create,
    access_key_revoke,
    access_key_rotate,
    access_key_set_policy,
    cluster_set_allowed_client_ips,
    key_quotas,
)
from clusters.services.access.policy import PolicyInvalid
from clusters.services.access.reconcile import key_desired_acls, reconcile_all_access
from console.models import AuditEvent
from fleet import limits
from fleet.kafka.errors import KafkaAuthenticationFailed, KafkaAuthorizationFailed
from fleet.kafka.types import AclBinding
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually, settled_acls


@pytest.fixture
def member(db):
    return new_member("acc")


@pytest.fixture
def setup(cell, member, admin_connection, django_capture_on_commit_callbacks):
    cluster, _key, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    topic = f"{cluster.wire_prefix}events"
    gateway.create_topic(admin_connection, topic, partitions=1)
    gateway.produce(admin_connection, topic, [b"one", b"two"])
    yield cluster, topic
    gateway.delete_topic(admin_connection, topic, missing_ok=True)


def test_create_key_gives_a_secret_once_with_a_filled_snippet_and_the_compiled_acls(
    setup, cell, admin_connection
):
    cluster, topic = setup
    created = access_key_create(cluster=cluster, name="billing-app", policy_template="producer")
    assert len(created.secret) >= 32
    key = created.key
    assert key.username.startswith(cluster.wire_prefix)
    python = next(s for s in created.snippets if s.key == "python")
    assert created.secret in python.text and key.username in python.text
    assert AccessKey.objects.get(pk=key.pk).sealed_secret == ""  # never stored
    on_cell = gateway.describe_acls(admin_connection, key.principal)
    assert on_cell == key_desired_acls(key)
    assert AuditEvent.objects.filter(action="key.create", target_id=str(key.pk)).exists()
    # The secret works at once on every broker.
    gateway.produce(as_key(cell, key.username, created.secret), topic, [b"x"])


def test_bad_key_input_changes_nothing(setup, admin_connection):
    cluster, _topic = setup
    before = (AccessKey.objects.count(), len(gateway.list_scram_users(admin_connection)))
    for kwargs, field in [
        ({"name": "bad name"}, "name"),
        ({"name": "initial"}, "name"),  # taken
        ({"name": "ok", "policy_template": "root"}, "policy_template"),
        (
            {
                "name": "ok",
                "policy_template": "custom",
                "policy_document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "kafka-cluster:ReadData",
                            "Resource": "skiff:kafka:someone-else:topic/orders/*",
                        }
                    ],
                },
            },
            "policy_document",
        ),
    ]:
        with pytest.raises(ValidationError) as caught:
            access_key_create(cluster=cluster, **kwargs)
        assert field in caught.value.message_dict
    after = (AccessKey.objects.count(), len(gateway.list_scram_users(admin_connection)))
    assert after == before


def test_producer_writes_but_cannot_read(setup, cell):
    cluster, topic = setup
    created = access_key_create(cluster=cluster, name="p", policy_template="producer")
    producer = as_key(cell, created.key.username, created.secret)
    assert gateway.produce(producer, topic, [b"hello"]) == 1
    with pytest.raises(KafkaAuthorizationFailed):
        gateway.consume(producer, topic, group_id=f"{cluster.wire_prefix}g", max_messages=1)


def test_consumer_reads_and_commits_but_cannot_write(setup, cell):
    cluster, topic = setup
    created = access_key_create(cluster=cluster, name="c", policy_template="consumer")
    consumer = as_key(cell, created.key.username, created.secret)
    group = f"{cluster.wire_prefix}readers"
    got = gateway.consume(consumer, topic, group_id=group, max_messages=10, timeout=20)
    assert [m.value for m in got] == [b"one", b"two"]
    # The commit worked: the same group continues after the committed offset.
    gateway.commit_group_offsets(consumer, group, {(topic, 0): 1})
    again = gateway.consume(consumer, topic, group_id=group, max_messages=10, timeout=10)
    assert [m.value for m in again] == [b"two"]
    with pytest.raises(KafkaAuthorizationFailed):
        gateway.produce(consumer, topic, [b"nope"])


def test_deny_overrides_allow_on_the_broker_and_dry_run_changes_nothing(
    setup, cell, admin_connection
):
    cluster, topic = setup
    secret_topic = f"{cluster.wire_prefix}secret"
    gateway.create_topic(admin_connection, secret_topic, partitions=1)
    created = access_key_create(cluster=cluster, name="d", policy_template="producer")
    key = created.key
    team, name = cluster.team.slug, cluster.name
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteAll",
                "Effect": "Allow",
                "Action": ["kafka-cluster:WriteData", "kafka-cluster:DescribeTopic"],
                "Resource": f"skiff:kafka:{team}:topic/{name}/*",
            },
            {
                "Sid": "NotSecrets",
                "Effect": "Deny",
                "Action": "kafka-cluster:WriteData",
                "Resource": f"skiff:kafka:{team}:topic/{name}/secret",
            },
        ],
    }
    before = gateway.describe_acls(admin_connection, key.principal)
    preview = access_key_set_policy(
        key=key, policy_template="custom", policy_document=doc, dry_run=True
    )
    assert (
        AclBinding("TOPIC", secret_topic, "LITERAL", key.principal, "*", "WRITE", "DENY")
        in preview.bindings
    )
    assert gateway.describe_acls(admin_connection, key.principal) == before

    access_key_set_policy(key=key, policy_template="custom", policy_document=doc)

    def applied():
        # DescribeAcls may reach a broker that has not applied the metadata change yet.
        assert gateway.describe_acls(admin_connection, key.principal) == preview.bindings

    eventually(applied, timeout=10)
    client = as_key(cell, key.username, created.secret)
    gateway.produce(client, topic, [b"allowed"])

    def denied():
        with pytest.raises(KafkaAuthorizationFailed):
            gateway.produce(client, secret_topic, [b"denied"])

    eventually(denied)
    gateway.delete_topic(admin_connection, secret_topic)


def test_a_rejected_policy_changes_nothing(setup, admin_connection):
    cluster, _topic = setup
    key = cluster.access_keys.get()
    before_acls = gateway.describe_acls(admin_connection, key.principal)
    before_audit = AuditEvent.objects.count()
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kafka-cluster:ReadData",
                "Resource": f"skiff:kafka:{cluster.team.slug}:topic/{cluster.name}/a*b",
            }
        ],
    }
    with pytest.raises(PolicyInvalid) as caught:
        access_key_set_policy(key=key, policy_template="custom", policy_document=bad)
    assert "Statement 1" in caught.value.messages[0]
    key.refresh_from_db()
    assert key.policy_template == "admin" and key.policy_document is None
    assert gateway.describe_acls(admin_connection, key.principal) == before_acls
    assert AuditEvent.objects.count() == before_audit


def test_drift_is_repaired_by_the_periodic_reconciler(setup, admin_connection):
    cluster, _topic = setup
    key = cluster.access_keys.get()
    expected = gateway.describe_acls(admin_connection, key.principal)
    assert expected == key_desired_acls(key)
    victim = expected[0]
    stray = AclBinding(
        "TOPIC", "somebody-elses-topic", "LITERAL", key.principal, "*", "READ", "ALLOW"
    )
    # An unrelated principal's binding must survive the repair untouched.
    bystander = AclBinding(
        "TOPIC", f"{cluster.wire_prefix}x", "LITERAL", "User:not-a-skiff-key", "*", "READ", "ALLOW"
    )
    gateway.delete_acls(admin_connection, [victim])
    gateway.create_acls(admin_connection, [stray, bystander])

    def drifted():  # brokers apply ACL changes a few ms after the controller acknowledged them
        on_cell = gateway.describe_acls(admin_connection, key.principal)
        assert victim not in on_cell and stray in on_cell

    eventually(drifted)

    reports = reconcile_all_access()
    report = reports[cluster.cell.name]
    assert report.created >= 1 and report.deleted >= 1, report

    def repaired():
        assert gateway.describe_acls(admin_connection, key.principal) == expected

    eventually(repaired)
    assert bystander in gateway.describe_acls(admin_connection, "User:not-a-skiff-key")
    gateway.delete_acls(admin_connection, [bystander])


def test_rotate_and_revoke_refuse_the_old_secret_at_once(setup, cell, admin_connection):
    cluster, topic = setup
    created = access_key_create(cluster=cluster, name="r", policy_template="producer")
    key = created.key
    old = as_key(cell, key.username, created.secret, timeout=5)
    gateway.produce(old, topic, [b"before"])

    rotated = access_key_rotate(key=key)
    assert rotated.secret != created.secret and len(rotated.secret) >= 32
    with pytest.raises(KafkaAuthenticationFailed):  # no retry: refused right away
        gateway.produce(as_key(cell, key.username, created.secret, timeout=5), topic, [b"x"])
    new = as_key(cell, key.username, rotated.secret, timeout=5)
    gateway.produce(new, topic, [b"after"])
    key.refresh_from_db()
    assert key.rotated_at is not None

    access_key_revoke(key=key)
    with pytest.raises(KafkaAuthenticationFailed):
        gateway.produce(new, topic, [b"x"])
    key.refresh_from_db()
    assert key.revoked_at is not None
    settled_acls(admin_connection, key.principal, lambda acls: acls == [])
    assert not gateway.describe_user_quotas(admin_connection, key.username).get(key.username)
    assert AuditEvent.objects.filter(action="key.revoke", target_id=str(key.pk)).exists()


def test_quotas_are_read_back_and_a_producer_is_throttled(
    setup, cell, admin_connection, monkeypatch
):
    cluster, _topic = setup
    quota = 64 * 1024  # bytes/s per broker
    brokers = cell.brokers.count()
    monkeypatch.setattr(limits, "CLUSTER_INGRESS_BYTES_PER_SEC", quota * brokers)
    created = access_key_create(cluster=cluster, name="q", policy_template="producer")
    rows = {r.name: r for r in key_quotas(created.key)}
    assert rows["producer_byte_rate"].current == quota == rows["producer_byte_rate"].expected
    assert rows["request_percentage"].current == limits.REQUEST_PERCENTAGE
    assert all(r.in_sync for r in rows.values())

    # One partition: every byte goes to one broker, so the limit is `quota` (times 1 broker).
    topic = f"{cluster.wire_prefix}throttled"
    gateway.create_topic(admin_connection, topic, partitions=1)
    total = 12 * quota
    points = gateway.produce_measured(
        as_key(cell, created.key.username, created.secret), topic, total_bytes=total, timeout=60
    )
    elapsed, sent = points[-1]
    # Kafka measures a rate over its quota window (11 one-second samples; at least 10 s at the
    # start), so up to quota * 10 s may pass as a burst before throttling starts: the margin
    # stated here is that burst plus 25%. Unthrottled, this data takes well under a second.
    window = 10.0
    assert sent == total
    assert sent <= quota * (elapsed + window) * 1.25, (sent, elapsed)
    assert elapsed >= 3.0, f"not throttled: {total} bytes in {elapsed:.2f}s"
    rate = sent / elapsed
    print(
        f"quota {quota} B/s on 1 broker: {sent} B in {elapsed:.1f}s = {rate:.0f} B/s "
        f"(bound with the burst margin: {quota * (elapsed + window) * 1.25 / elapsed:.0f} B/s)"
    )
    unthrottled_started = time.monotonic()
    gateway.produce_measured(admin_connection, topic, total_bytes=total, timeout=30)
    assert time.monotonic() - unthrottled_started < elapsed / 2
    gateway.delete_topic(admin_connection, topic)


def test_allow_list_applies_to_every_allow_binding(setup, cell, admin_connection):
    cluster, topic = setup
    created = access_key_create(cluster=cluster, name="net", policy_template="producer")
    client = as_key(cell, created.key.username, created.secret)
    gateway.produce(client, topic, [b"open"])

    cluster_set_allowed_client_ips(cluster=cluster, ips=["192.0.2.7"])

    def allow_hosts(acls) -> set[str]:
        return {b.host for b in acls if b.permission == "ALLOW"}

    # The ACL change reaches each broker a moment after the controller acknowledged it.
    settled_acls(
        admin_connection,
        created.key.principal,
        lambda acls: allow_hosts(acls) == {"192.0.2.7"},
        timeout=20,
    )

    def refused():
        with pytest.raises(KafkaAuthorizationFailed):
            gateway.produce(client, topic, [b"x"])

    eventually(refused)
    cluster_set_allowed_client_ips(cluster=cluster, ips="192.0.2.7\n127.0.0.1")
    eventually(lambda: gateway.produce(client, topic, [b"back"]))
    assert AuditEvent.objects.filter(action="cluster.allowed_client_ips").count() == 2
    with pytest.raises(ValidationError):
        cluster_set_allowed_client_ips(cluster=cluster, ips=["10.0.0.0/8"])
    cluster.refresh_from_db()
    assert cluster.allowed_client_ips == ["192.0.2.7", "127.0.0.1"]
