"""Tenant isolation, proven with real clients (confluent-kafka / kafka-python over SASL_SSL).

Clusters A and B (different teams) and C (A's team, another cluster) share the session's cell,
each with an admin-policy key — the most a policy can grant. A's key then tries everything it
could use to reach B, C or anything outside its prefix. The broker must refuse every attempt.
The whole attack list runs twice: with A's key authenticated by SCRAM-SHA-512, and by PLAIN
(issue 17), since ACLs must bind the same principal whichever mechanism let it in.
"""

import uuid

import pytest

from fleet.kafka.errors import KafkaAuthorizationFailed, KafkaGatewayError
from fleet.kafka.types import AclBinding
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

MIN_KINDS = 25


@pytest.fixture(params=["SCRAM-SHA-512", "PLAIN"])
def tenants(request, cell, admin_connection, django_capture_on_commit_callbacks, db):
    capture = django_capture_on_commit_callbacks
    team_a, team_b = new_member("isa"), new_member("isb")
    a, a_key, a_secret = active_cluster(team_a, capture, name="orders")
    b, b_key, b_secret = active_cluster(team_b, capture, name="orders")
    c, _c_key, _c_secret = active_cluster(team_a, capture, name="billing")
    a_conn = as_key(cell, a_key.username, a_secret, mechanism=request.param)
    b_conn = as_key(cell, b_key.username, b_secret)
    # B's things, made by B's own key: a topic with data, a group with offsets, a txn id.
    b_topic, b_group, b_txn = (f"{b.wire_prefix}{x}" for x in ("data", "readers", "tx"))
    eventually(lambda: gateway.create_topic(b_conn, b_topic, partitions=2))
    gateway.transactional_produce(b_conn, b_topic, [b"b1", b"b2"], transactional_id=b_txn)
    gateway.consume(b_conn, b_topic, group_id=b_group, max_messages=2, timeout=20)
    a_topic, a_group = f"{a.wire_prefix}mine", f"{a.wire_prefix}mine-readers"
    eventually(lambda: gateway.create_topic(a_conn, a_topic, partitions=1))
    gateway.produce(a_conn, a_topic, [b"a1"])
    gateway.consume(a_conn, a_topic, group_id=a_group, max_messages=1, timeout=20)
    c_topic = f"{c.wire_prefix}ledger"
    gateway.create_topic(admin_connection, c_topic, partitions=1)
    global_topic = f"global-{uuid.uuid4().hex[:8]}"
    gateway.create_topic(admin_connection, global_topic, partitions=1)
    yield {
        "a": a,
        "b": b,
        "c": c,
        "a_conn": a_conn,
        "a_key": a_key,
        "b_key": b_key,
        "a_topic": a_topic,
        "a_group": a_group,
        "b_topic": b_topic,
        "b_group": b_group,
        "b_txn": b_txn,
        "c_topic": c_topic,
        "global_topic": global_topic,
    }
    for topic in (b_topic, a_topic, c_topic, global_topic):
        gateway.delete_topic(admin_connection, topic, missing_ok=True)


def test_a_key_cannot_reach_another_tenant_or_outside_its_prefix(tenants, admin_connection):
    t = tenants
    conn = t["a_conn"]
    a_prefix, b_prefix = t["a"].wire_prefix, t["b"].wire_prefix
    bt, bg = t["b_topic"], t["b_group"]
    b_principal = t["b_key"].principal

    refused = {
        "describe B's topic": lambda: gateway.describe_topic(conn, bt),
        "describe B's topic configuration": lambda: gateway.describe_topic_configs(conn, bt),
        "produce to B's topic": lambda: gateway.produce(conn, bt, [b"x"], timeout=5),
        "consume B's topic in A's group": lambda: gateway.consume(
            conn, bt, group_id=f"{a_prefix}g", max_messages=1, timeout=5
        ),
        "consume B's topic in B's group": lambda: gateway.consume(
            conn, bt, group_id=bg, max_messages=1, timeout=5
        ),
        "fetch B's partitions without a group": lambda: gateway.fetch_messages(
            conn, {(bt, 0): (0, 10)}, timeout=5
        ),
        "create a topic with B's prefix": lambda: gateway.create_topic(
            conn, f"{b_prefix}sneaky", partitions=1
        ),
        "create a topic without any prefix": lambda: gateway.create_topic(
            conn, f"noprefix-{uuid.uuid4().hex[:6]}", partitions=1
        ),
        "create a topic in A's team's other cluster": lambda: gateway.create_topic(
            conn, f"{t['c'].wire_prefix}sneaky", partitions=1
        ),
        "delete B's topic": lambda: gateway.delete_topic(conn, bt),
        "alter B's topic configuration": lambda: gateway.alter_topic_configs(
            conn, bt, {"retention.ms": "1000"}
        ),
        "add partitions to B's topic": lambda: gateway.create_partitions(conn, bt, total=3),
        # Sent straight to a broker: librdkafka would stop at the refused leader lookup.
        "delete records of B's topic": lambda: gateway.delete_records_at_broker(
            conn, bt, 0, -1, broker_id=1
        ),
        "join B's group": lambda: gateway.consume(
            conn, t["a_topic"], group_id=bg, max_messages=1, timeout=5
        ),
        "describe B's group": lambda: _describe_group(conn, bg),
        "delete B's group": lambda: gateway.delete_consumer_groups(conn, [bg]),
        "commit offsets for B's group on A's topic": lambda: gateway.commit_offsets_at_broker(
            conn, bg, {(t["a_topic"], 0): 0}, broker_id=1
        ),
        "commit offsets for B's group on B's topic": lambda: gateway.commit_offsets_at_broker(
            conn, bg, {(bt, 0): 0}, broker_id=2
        ),
        "read B's group offsets": lambda: gateway.list_consumer_group_offsets(conn, [bg]),
        "reset B's group offsets": lambda: gateway.alter_consumer_group_offsets(
            conn, bg, {(bt, 0): 0}
        ),
        "use B's transactional id": lambda: gateway.transactional_produce(
            conn, t["a_topic"], [b"x"], transactional_id=t["b_txn"], timeout=10
        ),
        "create an ACL on B's prefix": lambda: gateway.create_acls(
            conn,
            [AclBinding("TOPIC", b_prefix, "PREFIXED", t["a_key"].principal, "*", "ALL", "ALLOW")],
        ),
        "delete B's ACLs": lambda: _delete_acls_of(conn, admin_connection, b_principal),
        "describe the cell's ACLs": lambda: gateway.describe_acls(conn),
        "create a SCRAM user": lambda: gateway.create_scram_user(
            conn, f"evil-{uuid.uuid4().hex[:6]}", "x" * 32
        ),
        "change B's key password": lambda: gateway.create_scram_user(
            conn, t["b_key"].username, "y" * 32
        ),
        "delete B's SCRAM user": lambda: gateway.delete_scram_user(
            conn, t["b_key"].username, missing_ok=False
        ),
        "list SCRAM users": lambda: gateway.list_scram_users(conn),
        "describe cluster (broker) configs": lambda: gateway.describe_broker_configs(conn, 1),
        "alter broker configs": lambda: gateway.alter_broker_configs(
            conn, 1, {"log.cleaner.threads": "2"}
        ),
        "raise its own quota": lambda: gateway.alter_user_quotas(
            conn, t["a_key"].username, {"producer_byte_rate": 1e12}
        ),
        "describe quotas": lambda: gateway.describe_user_quotas(conn),
        "produce to an unprefixed topic": lambda: gateway.produce(
            conn, t["global_topic"], [b"x"], timeout=5
        ),
        "consume an unprefixed topic": lambda: gateway.consume(
            conn, t["global_topic"], group_id=f"{a_prefix}g2", max_messages=1, timeout=5
        ),
        "produce to A's team's other cluster": lambda: gateway.produce(
            conn, t["c_topic"], [b"x"], timeout=5
        ),
    }
    # Attempts where the broker answers but must show nothing of anyone else.
    hidden = {
        "list topics": lambda: _outside(gateway.list_topics(conn), a_prefix),
        "list consumer groups": lambda: _outside(gateway.list_consumer_groups(conn), a_prefix),
        # librdkafka asks for the partitions' leaders first; metadata of B's topic is refused,
        # so it gets no further than "no leaders found" — or returns nothing.
        "list B's partition offsets": lambda: _nothing_or_refused(
            lambda: list(gateway.list_partition_offsets(conn, [(bt, 0), (bt, 1)]))
        ),
    }

    successes = []
    for kind, attempt in refused.items():
        try:
            attempt()
        except KafkaAuthorizationFailed:
            continue
        except (KafkaGatewayError, AssertionError) as exc:
            successes.append(f"{kind}: not refused as an authorization failure: {exc!r}")
            continue
        successes.append(f"{kind}: SUCCEEDED")
    for kind, attempt in hidden.items():
        leaked = attempt()
        if leaked:
            successes.append(f"{kind}: saw {leaked}")
    kinds = len(refused) + len(hidden)
    print(f"\nisolation: {kinds} kinds of attempts tried, {kinds - len(successes)} refused")
    assert not successes, "\n".join(successes)
    assert kinds >= MIN_KINDS

    # The attempts changed nothing of B's: its topic, data, offsets and ACLs are intact.
    assert gateway.list_consumer_group_offsets(admin_connection, [bg])[bg]
    assert gateway.describe_acls(admin_connection, b_principal)
    assert bt in gateway.list_topics(admin_connection)
    # …and A's key still works inside its own prefix.
    assert gateway.produce(conn, t["a_topic"], [b"still fine"]) == 1
    assert set(gateway.list_topics(conn)) == {t["a_topic"]}


def _nothing_or_refused(fn):
    try:
        return fn()
    except KafkaGatewayError:
        return []


def _outside(names, prefix):
    return sorted(n for n in names if not n.startswith(prefix))


def _describe_group(conn, group):
    described = gateway.describe_consumer_groups(conn, [group])
    if described.get(group) is not None and described[group].state not in ("DEAD", "UNKNOWN"):
        return described
    raise AssertionError(f"describe of {group} answered without an error: {described}")


def _delete_acls_of(conn, admin_connection, principal):
    bindings = gateway.describe_acls(admin_connection, principal)
    deleted = gateway.delete_acls(conn, bindings)
    if deleted == 0:
        # Kafka answers DeleteAcls of an unauthorised principal with an authorisation error;
        # zero deletions without one would also leave B intact, but is not what we expect.
        raise AssertionError("DeleteAcls answered without an authorization error")
    return deleted
