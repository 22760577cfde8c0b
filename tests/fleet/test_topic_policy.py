"""Issue 13, acceptance 1: the brokers' topic policies, tested as an attacker would — a tenant's
own admin-policy key over the Kafka protocol, not through the console.

Every topic config Kafka has (DescribeConfigs on a topic, all entries) is changed once: outside
the console's settable table or its range the broker answers POLICY_VIOLATION, inside it the
change succeeds. Creation with another replication factor, explicit assignments or 10,000
partitions is refused.
"""

import uuid

import pytest

from clusters.services import topics
from fleet import limits
from fleet.topic_rules import LONG_MAX, TOPIC_CONFIGS, to_wire_configs
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.kafka import gateway

# wire name -> its spec (message.timestamp.difference.max.ms is two configs on the wire)
ALLOWED = {
    wire: spec for spec in TOPIC_CONFIGS.values() for wire in to_wire_configs({spec.name: ""})
}
# Set by the platform during a rebalance (issue 14), admitted only as partition:broker lists.
OPERATIONAL = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")


@pytest.fixture
def tenant(cell, db, django_capture_on_commit_callbacks):
    """(cluster, tenant key connection, the tenant topic's wire name)."""
    member = new_member("p")
    cluster, key, secret = active_cluster(member, django_capture_on_commit_callbacks)
    # The console's own creation (platform defaults set at creation) passes the policy.
    topics.topic_create(cluster=cluster, name="table", partitions=1, configs={})
    return cluster, as_key(cell, key.username, secret, timeout=20.0), f"{cluster.wire_prefix}table"


def _refusal(call) -> gateway.KafkaGatewayError | None:
    try:
        call()
    except gateway.KafkaGatewayError as exc:
        return exc
    return None


def _out_of_range(spec) -> list[str]:
    if spec.choices:
        return []
    low, high = spec.minimum or 0, spec.maximum or LONG_MAX
    values = [str(low - 1)] if not (spec.unlimited and low - 1 == -1) else [str(low - 2)]
    if high < LONG_MAX:
        values.append(str(high + 1))
    return values


def test_every_topic_config_as_a_tenant_key(tenant, admin_connection):
    _cluster, key, wire = tenant
    every = gateway.describe_topic_configs(admin_connection, wire)
    assert len(every) > 30 and set(ALLOWED) <= set(every)

    failures = []
    for name, entry in sorted(every.items()):
        spec = ALLOWED.get(name)
        if name in OPERATIONAL:
            continue
        if spec is None:
            # Not settable: even today's value is refused (a value Kafka itself accepts, so the
            # refusal is the policy's). cleanup.policy (create-only in the console) is held to
            # its choices: KRaft runs the alter policy on creation configs too.
            value = entry.value if entry.value is not None else ""
            exc = _refusal(lambda n=name, v=value: gateway.alter_topic_configs(key, wire, {n: v}))
            if not isinstance(exc, gateway.PolicyViolation) or name not in str(exc):
                failures.append((name, value, "should be refused by the policy", exc))
            continue
        exc = _refusal(
            lambda n=name, v=spec.default: gateway.alter_topic_configs(key, wire, {n: v})
        )
        if exc is not None:
            failures.append((name, spec.default, "should be allowed", exc))
        for bad in _out_of_range(spec):
            exc = _refusal(lambda n=name, v=bad: gateway.alter_topic_configs(key, wire, {n: v}))
            # Values Kafka itself rejects (negative timestamps) fail with INVALID_CONFIG first.
            if exc is None or not (
                isinstance(exc, gateway.PolicyViolation) or exc.kafka_error == "INVALID_CONFIG"
            ):
                failures.append((name, bad, "should be refused", exc))
    assert not failures, "\n".join(map(str, failures))

    # The attacks of issue 13, by name.
    for name, value in {
        "segment.ms": "1",
        "flush.messages": "1",
        "index.interval.bytes": "1",
        "preallocate": "true",
        "max.message.bytes": "104857600",
        "unclean.leader.election.enable": "true",
        "min.insync.replicas": "1",
        "leader.replication.throttled.replicas": "*",
    }.items():
        exc = _refusal(lambda n=name, v=value: gateway.alter_topic_configs(key, wire, {n: v}))
        assert isinstance(exc, gateway.PolicyViolation), (name, exc)
    exc = _refusal(lambda: gateway.alter_topic_configs(key, wire, {"max.message.bytes": "8388609"}))
    assert isinstance(exc, gateway.PolicyViolation)
    assert "max.message.bytes" in str(exc) and str(limits.MAX_MESSAGE_BYTES) in str(exc)
    # Removing a config (back to the platform default) stays possible.
    gateway.alter_topic_configs(key, wire, {"retention.ms": None})
    # The rebalance's throttled-replica lists: the policy cannot tell the platform from a
    # tenant, so it admits the platform's form (explicit partition:broker pairs) and nothing
    # else; they only matter while a rebalance sets a broker throttle rate.
    for name in OPERATIONAL:
        exc = _refusal(lambda n=name: gateway.alter_topic_configs(key, wire, {n: "*"}))
        assert isinstance(exc, gateway.PolicyViolation) and name in str(exc), (name, exc)
        # Malformed lists: Kafka's own validation (INVALID_CONFIG) refuses them first.
        for bad in ("0:x", "all"):
            exc = _refusal(lambda n=name, v=bad: gateway.alter_topic_configs(key, wire, {n: v}))
            assert exc is not None, (name, bad)
        gateway.alter_topic_configs(key, wire, {name: "0:1,0:2"})
        gateway.alter_topic_configs(key, wire, {name: None})


def test_topic_creation_outside_the_rules_is_refused(tenant, kafka_cell):
    cluster, key, _wire = tenant
    prefix = cluster.wire_prefix

    def create(suffix, **kwargs):
        return _refusal(lambda: gateway.create_topic(key, f"{prefix}{suffix}", **kwargs))

    exc = create("rf1", partitions=1, replication_factor=1)
    assert isinstance(exc, gateway.PolicyViolation) and "replication factor" in str(exc), exc
    # RF 5 on 3 brokers: the controller's placement refuses it before the policy would.
    exc = create("rf5", partitions=1, replication_factor=5)
    assert exc is not None and exc.kafka_error in ("POLICY_VIOLATION", "INVALID_REPLICATION_FACTOR")
    exc = create("huge", partitions=10_000)
    assert isinstance(exc, gateway.PolicyViolation), exc
    assert str(limits.MAX_PARTITIONS) in str(exc) or "partitions" in str(exc)
    exc = _refusal(
        lambda: gateway.create_topic_with_assignment(key, f"{prefix}placed", [[1, 2, 3], [2, 3, 1]])
    )
    assert isinstance(exc, gateway.PolicyViolation) and "assignment" in str(exc), exc
    exc = create("seg", partitions=1, configs={"segment.ms": "1"})
    assert isinstance(exc, gateway.PolicyViolation) and "segment.ms" in str(exc), exc
    exc = create("big", partitions=1, configs={"max.message.bytes": str(10 * 1024**2)})
    assert isinstance(exc, gateway.PolicyViolation) and "max.message.bytes" in str(exc), exc

    # Within the rules: the cell's RF, a create-only config, values in range.
    name = f"{prefix}ok-{uuid.uuid4().hex[:6]}"
    gateway.create_topic(
        key,
        name,
        partitions=3,
        replication_factor=3,
        configs={"cleanup.policy": "compact", "retention.ms": "3600000"},
    )
