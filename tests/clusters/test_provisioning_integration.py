"""Provisioning and deletion against the real cell: state machine, isolation, no orphans."""

import uuid

import pytest

from clusters.models import Cluster, ClusterEvent
from clusters.services import provisioning
from clusters.services.clusters import ClusterSpec, cluster_create, cluster_delete, cluster_retry
from fleet.kafka.errors import KafkaAuthorizationFailed, KafkaUnavailable
from fleet.kafka.platform import PlatformSuperuser
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"t{uuid.uuid4().hex[:8]}")


def create_cluster(member, capture, **spec):
    spec.setdefault("name", "orders")
    with capture(execute=True):
        created = cluster_create(team=member.team, user=member.user, spec=ClusterSpec(**spec))
    created.cluster.refresh_from_db()
    return created


def key_connection(cell, username, secret):
    return gateway.KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=username,
        password=secret,
        ca_path=cell.ca_path,
        timeout=15,
    )


def can_log_in(cell, username, secret) -> bool:
    gateway.close_clients()  # admin clients are cached per connection: test a fresh login
    try:
        gateway.describe_cluster(key_connection(cell, username, secret))
    except gateway.KafkaAuthenticationFailed:
        return False
    return True


def footprint(admin_connection, cluster, secret=None):
    """Everything of this cluster on the cell: usable credentials, ACLs, quotas, topics.

    Credentials are revoked rather than deleted (gateway.revoke_scram_user), so "users" lists the
    keys whose secret still logs in.
    """
    usernames = set(cluster.access_keys.values_list("username", flat=True))
    listed = usernames & gateway.list_scram_users(admin_connection)
    return {
        "users": {u for u in listed if secret and can_log_in(cluster.cell, u, secret)},
        "acls": [
            b
            for b in gateway.describe_acls(admin_connection)
            if b.principal.removeprefix("User:") in usernames
            or b.resource_name.startswith(cluster.wire_prefix)
        ],
        "quotas": {
            user: q
            for user, q in gateway.describe_user_quotas(admin_connection).items()
            if user in usernames and q
        },
        "topics": [
            t for t in gateway.list_topics(admin_connection) if t.startswith(cluster.wire_prefix)
        ],
    }


EMPTY = {"users": set(), "acls": [], "quotas": {}, "topics": []}


def test_create_reaches_active_and_the_key_works_inside_its_prefix_only(
    cell, member, admin_connection, django_capture_on_commit_callbacks
):
    created = create_cluster(member, django_capture_on_commit_callbacks)
    cluster = created.cluster
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
    assert cluster.cell == cell
    assert cluster.access_keys.get().sealed_secret == ""  # secret wiped once on the cell
    kinds = list(cluster.events.values_list("kind", flat=True))
    assert kinds == [ClusterEvent.Kind.REQUESTED, ClusterEvent.Kind.ACTIVATED]

    quotas = gateway.describe_user_quotas(admin_connection, created.initial_key.username)
    assert quotas[created.initial_key.username]["producer_byte_rate"] > 0
    assert "controller_mutation_rate" in quotas[created.initial_key.username]

    topic = f"{cluster.wire_prefix}payments"
    gateway.create_topic(admin_connection, topic, partitions=1)
    client = key_connection(cell, created.initial_key.username, created.secret)
    eventually(lambda: gateway.produce(client, topic, [b"hello"]), timeout=20)
    other_team_topic = f"{member.team.slug}x.orders.payments"
    gateway.create_topic(admin_connection, other_team_topic, partitions=1)
    with pytest.raises(KafkaAuthorizationFailed):
        gateway.produce(client, other_team_topic, [b"nope"])
    gateway.delete_topic(admin_connection, other_team_topic)


def test_read_only_template_cannot_write(
    cell, member, admin_connection, django_capture_on_commit_callbacks
):
    created = create_cluster(
        member, django_capture_on_commit_callbacks, policy_template="read_only"
    )
    topic = f"{created.cluster.wire_prefix}events"
    gateway.create_topic(admin_connection, topic, partitions=1)
    client = key_connection(cell, created.initial_key.username, created.secret)

    def write_is_refused():
        with pytest.raises(KafkaAuthorizationFailed):
            gateway.produce(client, topic, [b"x"])

    eventually(write_is_refused, timeout=20)


def test_allowed_client_ips_go_into_the_acl_host_field(
    cell, member, admin_connection, django_capture_on_commit_callbacks
):
    created = create_cluster(
        member, django_capture_on_commit_callbacks, allowed_client_ips=["192.0.2.7"]
    )
    principal = f"User:{created.initial_key.username}"
    hosts = {b.host for b in gateway.describe_acls(admin_connection) if b.principal == principal}
    assert hosts == {"192.0.2.7"}
    # A client from 127.0.0.1 is not on the list: authenticated but authorised for nothing.
    topic = f"{created.cluster.wire_prefix}t"
    gateway.create_topic(admin_connection, topic, partitions=1)
    client = key_connection(cell, created.initial_key.username, created.secret)
    with pytest.raises(KafkaAuthorizationFailed):
        gateway.produce(client, topic, [b"x"])


STEP_FAILURES = [
    ("placement", provisioning, "least_loaded_healthy_cell"),
    # Platform operations go through the cell's superuser client (fleet.kafka.platform).
    ("key", PlatformSuperuser, "create_scram_user"),
    ("acls", PlatformSuperuser, "create_acls"),
    ("quotas", PlatformSuperuser, "alter_many_user_quotas"),
    ("activate", provisioning, "step_activate"),
]


@pytest.mark.parametrize(
    ("step", "module", "function"), STEP_FAILURES, ids=[s[0] for s in STEP_FAILURES]
)
def test_a_failure_at_any_step_leaves_nothing_on_the_cell_and_retry_recovers(
    step,
    module,
    function,
    cell,
    member,
    admin_connection,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    real = getattr(module, function)
    calls = {"n": 0}

    def fail_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KafkaUnavailable("Injected failure: the cell did not answer in time.")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, function, fail_once)
    created = create_cluster(member, django_capture_on_commit_callbacks)
    cluster = created.cluster
    assert cluster.state == Cluster.State.FAILED
    assert cluster.state_reason  # human-readable
    assert footprint(admin_connection, cluster, created.secret) == EMPTY

    with django_capture_on_commit_callbacks(execute=True):
        cluster_retry(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
    assert footprint(admin_connection, cluster, created.secret)["users"] == {
        created.initial_key.username
    }


def test_delete_removes_topics_groups_users_acls_and_quotas(
    cell, member, admin_connection, django_capture_on_commit_callbacks
):
    created = create_cluster(member, django_capture_on_commit_callbacks)
    cluster = created.cluster
    topic = f"{cluster.wire_prefix}orders"
    gateway.create_topic(admin_connection, topic, partitions=2)
    client = key_connection(cell, created.initial_key.username, created.secret)
    eventually(lambda: gateway.produce(client, topic, [b"a", b"b"]), timeout=20)
    group = f"{cluster.wire_prefix}readers"
    gateway.consume(client, topic, group_id=group, max_messages=2, timeout=20)
    assert group in gateway.list_consumer_groups(admin_connection)
    # A neighbour whose prefix shares the first characters must survive.
    neighbour = f"{cluster.wire_prefix[:-1]}x.orders"
    gateway.create_topic(admin_connection, neighbour, partitions=1)

    with django_capture_on_commit_callbacks(execute=True):
        cluster_delete(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.DELETED
    assert cluster.events.filter(kind=ClusterEvent.Kind.DELETED).count() == 1
    assert footprint(admin_connection, cluster, created.secret) == EMPTY
    assert group not in gateway.list_consumer_groups(admin_connection)
    assert neighbour in gateway.list_topics(admin_connection)
    gateway.delete_topic(admin_connection, neighbour)


DELETE_STEPS = [
    "delete_acls",
    "alter_many_user_quotas",
    "revoke_scram_user",
    "delete_consumer_groups",
    "delete_topic",
]


@pytest.mark.parametrize("function", DELETE_STEPS)
def test_a_failed_delete_step_stays_deleting_with_a_reason_and_can_be_repeated(
    function, cell, member, admin_connection, monkeypatch, django_capture_on_commit_callbacks
):
    created = create_cluster(member, django_capture_on_commit_callbacks)
    cluster = created.cluster
    topic = f"{cluster.wire_prefix}orders"
    gateway.create_topic(admin_connection, topic, partitions=1)
    client = key_connection(cell, created.initial_key.username, created.secret)
    eventually(lambda: gateway.produce(client, topic, [b"a"]), timeout=20)
    gateway.consume(client, topic, group_id=f"{cluster.wire_prefix}g", max_messages=1, timeout=20)
    real = getattr(PlatformSuperuser, function)

    def broken(*args, **kwargs):
        raise KafkaUnavailable("Injected failure: the cell did not answer in time.")

    monkeypatch.setattr(PlatformSuperuser, function, broken)
    with django_capture_on_commit_callbacks(execute=True):
        cluster_delete(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.DELETING
    assert "Deletion is incomplete" in cluster.state_reason
    assert not cluster.events.filter(kind=ClusterEvent.Kind.DELETED).exists()

    monkeypatch.setattr(PlatformSuperuser, function, real)
    with django_capture_on_commit_callbacks(execute=True):
        cluster_delete(cluster=cluster)  # the user presses Delete again
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.DELETED
    assert footprint(admin_connection, cluster, created.secret) == EMPTY
    assert not [
        g
        for g in gateway.list_consumer_groups(admin_connection)
        if g.startswith(cluster.wire_prefix)
    ]
