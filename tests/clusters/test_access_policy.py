"""The policy compiler (pure): grammar, errors that point at the statement, templates, and the
property that nothing a policy compiles to reaches outside the cluster's prefix."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusters.services.access.policy import (
    ACTIONS,
    KAFKA_CLUSTER_RESOURCE,
    TEMPLATES,
    ClusterScope,
    PolicyInvalid,
    analyze_policy,
    compile_policy_to_acls,
    template_policy,
)
from fleet.kafka.types import AclBinding

SCOPE = ClusterScope("acme", "orders")
PREFIX = "acme.orders."
USER = "acme.orders.app.abc123"
P = f"User:{USER}"
T = "skiff:kafka:acme:topic/orders"
G = "skiff:kafka:acme:group/orders"
X = "skiff:kafka:acme:transactional-id/orders"
C = "skiff:kafka:acme:cluster/orders"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources, **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions, resources):
    return {"Effect": "Deny", "Action": actions, "Resource": resources}


def compile_(doc, hosts=()):
    return compile_policy_to_acls(doc, cluster=SCOPE, username=USER, hosts=hosts)


def b(rtype, name, pattern, op, perm="ALLOW", host="*"):
    return AclBinding(rtype, name, pattern, P, host, op, perm)


def problems(doc):
    with pytest.raises(PolicyInvalid) as caught:
        compile_(doc)
    return [str(p) for p in caught.value.problems]


# --- mapping --------------------------------------------------------------------------------


def test_exact_name_is_literal_and_trailing_star_is_prefixed():
    assert compile_(policy(allow("kafka-cluster:WriteData", f"{T}/payments"))) == sorted(
        [
            b("TOPIC", f"{PREFIX}payments", "LITERAL", "WRITE"),
            b("TOPIC", f"{PREFIX}payments", "LITERAL", "DESCRIBE"),  # implied
        ]
    )
    assert compile_(policy(allow("kafka-cluster:ReadData", f"{T}/pay*"))) == sorted(
        [
            b("TOPIC", f"{PREFIX}pay", "PREFIXED", "READ"),
            b("TOPIC", f"{PREFIX}pay", "PREFIXED", "DESCRIBE"),
        ]
    )
    assert compile_(policy(allow("kafka-cluster:DescribeGroup", f"{G}/*"))) == [
        b("GROUP", PREFIX, "PREFIXED", "DESCRIBE")
    ]


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("CreateTopic", f"{T}/t", [("TOPIC", "CREATE")]),
        ("DescribeTopic", f"{T}/t", [("TOPIC", "DESCRIBE")]),
        ("AlterTopic", f"{T}/t", [("TOPIC", "ALTER"), ("TOPIC", "DESCRIBE")]),
        ("DeleteTopic", f"{T}/t", [("TOPIC", "DELETE"), ("TOPIC", "DESCRIBE")]),
        ("DescribeTopicDynamicConfiguration", f"{T}/t", [("TOPIC", "DESCRIBE_CONFIGS")]),
        (
            "AlterTopicDynamicConfiguration",
            f"{T}/t",
            [("TOPIC", "ALTER_CONFIGS"), ("TOPIC", "DESCRIBE_CONFIGS")],
        ),
        ("ReadData", f"{T}/t", [("TOPIC", "READ"), ("TOPIC", "DESCRIBE")]),
        ("WriteData", f"{T}/t", [("TOPIC", "WRITE"), ("TOPIC", "DESCRIBE")]),
        ("DescribeGroup", f"{G}/t", [("GROUP", "DESCRIBE")]),
        ("AlterGroup", f"{G}/t", [("GROUP", "READ"), ("GROUP", "DESCRIBE")]),
        ("DeleteGroup", f"{G}/t", [("GROUP", "DELETE"), ("GROUP", "DESCRIBE")]),
        ("DescribeTransactionalId", f"{X}/t", [("TRANSACTIONAL_ID", "DESCRIBE")]),
        (
            "AlterTransactionalId",
            f"{X}/t",
            [("TRANSACTIONAL_ID", "WRITE"), ("TRANSACTIONAL_ID", "DESCRIBE")],
        ),
        ("WriteDataIdempotently", C, [("CLUSTER", "IDEMPOTENT_WRITE")]),
        ("Connect", C, []),
        ("DescribeCluster", C, []),
    ],
)
def test_every_action_maps_to_its_kafka_operation(action, resource, expected):
    got = compile_(policy(allow(f"kafka-cluster:{action}", resource)))
    assert sorted((x.resource_type, x.operation) for x in got) == sorted(expected)
    for binding in got:
        if binding.resource_type == "CLUSTER":
            assert binding.resource_name == KAFKA_CLUSTER_RESOURCE
        else:
            assert binding.resource_name == f"{PREFIX}t"


def test_action_wildcards_follow_iam():
    got = compile_(policy(allow("kafka-cluster:*Topic", f"{T}/*")))
    assert {x.operation for x in got} == {"CREATE", "DESCRIBE", "ALTER", "DELETE"}
    # case-insensitive, '?' matches one character
    got = compile_(policy(allow("KAFKA-CLUSTER:readdat?", f"{T}/x")))
    assert {x.operation for x in got} == {"READ", "DESCRIBE"}
    # kafka-cluster:* with "*" = everything of this cluster, explicit operations, never ALL
    got = compile_(policy(allow("kafka-cluster:*", "*")))
    assert {x.operation for x in got if x.resource_type == "TOPIC"} == {
        "CREATE",
        "DESCRIBE",
        "ALTER",
        "DELETE",
        "DESCRIBE_CONFIGS",
        "ALTER_CONFIGS",
        "READ",
        "WRITE",
    }
    assert [x for x in got if x.resource_type == "CLUSTER"] == [
        b("CLUSTER", KAFKA_CLUSTER_RESOURCE, "LITERAL", "IDEMPOTENT_WRITE")
    ]


def test_deny_becomes_deny_on_any_host_and_allow_follows_the_allow_list():
    doc = policy(
        allow(["kafka-cluster:ReadData"], f"{T}/*"),
        deny("kafka-cluster:ReadData", f"{T}/secret"),
    )
    got = compile_(doc, hosts=["10.0.0.1", "10.0.0.2"])
    assert b("TOPIC", f"{PREFIX}secret", "LITERAL", "READ", "DENY", "*") in got
    allows = [x for x in got if x.permission == "ALLOW"]
    assert {x.host for x in allows} == {"10.0.0.1", "10.0.0.2"}
    # Deny adds no implied operations: it denies exactly what it names.
    assert [x for x in got if x.permission == "DENY"] == [
        b("TOPIC", f"{PREFIX}secret", "LITERAL", "READ", "DENY")
    ]


def test_single_statement_object_and_string_lists_are_accepted():
    doc = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "kafka-cluster:WriteData", "Resource": f"{T}/a"},
    }
    assert len(compile_(doc)) == 2


def test_warnings_for_needs_on_other_resources():
    compiled = analyze_policy(
        policy(allow("kafka-cluster:ReadData", f"{T}/*")), cluster=SCOPE, username=USER
    )
    assert any("AlterGroup" in w for w in compiled.warnings)
    compiled = analyze_policy(template_policy("consumer", SCOPE), cluster=SCOPE, username=USER)
    assert compiled.warnings == []


# --- rejections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        (f"{T}/a*b", "'*' may only be the last character"),
        (f"{T}/*abc", "'*' may only be the last character"),
        (f"{T}/a?", "'*' may only be the last character"),
        ("skiff:kafka:other:topic/orders/x", "belongs to team 'other'"),
        ("skiff:kafka:*:topic/orders/x", "wildcards in the team"),
        ("skiff:kafka:acme:topic/billing/x", "belongs to cluster 'billing'"),
        ("skiff:kafka:acme:topic/*/x", "wildcards in the cluster name"),
        ("skiff:kafka:acme:topic/orders", "names no topic"),
        ("skiff:kafka:acme:topic/orders/", "names no topic"),
        ("skiff:kafka:acme:broker/orders/x", "resource type must be one of"),
        ("arn:aws:kafka:us-east-1:1:topic/orders/x", "not a Skiff resource"),
        (f"{T}/bad name", "letters, digits"),
        (f"{T}/" + "x" * 240, "too long"),
    ],
)
def test_bad_resources_are_rejected_with_the_reason(resource, why):
    found = problems(policy({"Sid": "S1", **allow("kafka-cluster:ReadData", resource)}))
    assert len(found) == 1
    assert found[0].startswith("Statement 1 (Sid 'S1'): ")
    assert why in found[0]


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        (allow("s3:GetObject", f"{T}/x"), "not a Kafka action"),
        (allow("kafka-cluster:ReadDataz", f"{T}/x"), "Unknown action"),
        (allow("kafka-cluster:AlterCluster", C), "does not exist on serverless"),
        (allow("kafka-cluster:Zz*", f"{T}/x"), "matches no kafka-cluster action"),
        ({"Effect": "Permit", "Action": "kafka-cluster:ReadData", "Resource": f"{T}/x"}, "Effect"),
        ({"Effect": "Allow", "Resource": f"{T}/x"}, "'Action' must be"),
        ({"Effect": "Allow", "Action": [], "Resource": f"{T}/x"}, "'Action' must be"),
        ({"Effect": "Allow", "Action": "kafka-cluster:ReadData"}, "'Resource' must be"),
        (allow("kafka-cluster:ReadData", f"{T}/x", Condition={}), "Condition is not supported"),
        (allow("kafka-cluster:ReadData", f"{T}/x", Principal="*"), "Principal is not supported"),
        (allow("kafka-cluster:ReadData", f"{T}/x", Colour="red"), "Unknown key 'Colour'"),
        (allow("kafka-cluster:ReadData", f"{G}/x"), "applies to topic resources"),
        (allow("kafka-cluster:*Group", f"{T}/x"), "grants or denies nothing"),
        (deny("kafka-cluster:Connect", C), "revoke it"),
    ],
)
def test_bad_statements_point_at_the_statement(statement, why):
    doc = policy(allow("kafka-cluster:WriteData", f"{T}/ok"), statement)
    found = problems(doc)
    assert found and all(p.startswith("Statement 2") for p in found), found
    assert any(why in p for p in found), found


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ([], "must be a JSON object"),
        ("{nope", "not valid JSON"),
        ({"Statement": [allow("kafka-cluster:ReadData", f"{T}/x")]}, "'Version'"),
        ({"Version": "2012-10-17", "Statement": []}, "non-empty list"),
        ({"Version": "2012-10-17", "Statement": ["x"]}, "must be a JSON object"),
        (
            {"Version": "2012-10-17", "Statement": [], "Extra": 1},
            "Unknown top-level key",
        ),
    ],
)
def test_bad_documents(doc, why):
    assert any(why in p for p in problems(doc))


def test_every_problem_is_reported_at_once():
    doc = policy(
        allow("kafka-cluster:ReadData", "skiff:kafka:other:topic/orders/x"),
        allow("kafka-cluster:Nope", f"{T}/x"),
    )
    found = problems(doc)
    assert [p.split(":")[0] for p in found] == ["Statement 1", "Statement 2"]


# --- templates -------------------------------------------------------------------------------

TEMPLATE_BINDINGS = {
    "producer": {("TOPIC", PREFIX, "WRITE"), ("TOPIC", PREFIX, "DESCRIBE")},
    "idempotent_producer": {
        ("TOPIC", PREFIX, "WRITE"),
        ("TOPIC", PREFIX, "DESCRIBE"),
        ("CLUSTER", KAFKA_CLUSTER_RESOURCE, "IDEMPOTENT_WRITE"),
    },
    "transactional_producer": {
        ("TOPIC", PREFIX, "WRITE"),
        ("TOPIC", PREFIX, "DESCRIBE"),
        ("CLUSTER", KAFKA_CLUSTER_RESOURCE, "IDEMPOTENT_WRITE"),
        ("TRANSACTIONAL_ID", PREFIX, "WRITE"),
        ("TRANSACTIONAL_ID", PREFIX, "DESCRIBE"),
    },
    "consumer": {
        ("TOPIC", PREFIX, "READ"),
        ("TOPIC", PREFIX, "DESCRIBE"),
        ("GROUP", PREFIX, "READ"),
        ("GROUP", PREFIX, "DESCRIBE"),
    },
    "read_only": {
        ("TOPIC", PREFIX, "READ"),
        ("TOPIC", PREFIX, "DESCRIBE"),
        ("TOPIC", PREFIX, "DESCRIBE_CONFIGS"),
        ("GROUP", PREFIX, "READ"),
        ("GROUP", PREFIX, "DESCRIBE"),
        ("TRANSACTIONAL_ID", PREFIX, "DESCRIBE"),
    },
    "topic_admin": {
        ("TOPIC", PREFIX, op)
        for op in ("CREATE", "DESCRIBE", "ALTER", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS")
    },
    "produce_consume": {
        ("TOPIC", PREFIX, "READ"),
        ("TOPIC", PREFIX, "WRITE"),
        ("TOPIC", PREFIX, "DESCRIBE"),
        ("TOPIC", PREFIX, "DESCRIBE_CONFIGS"),
        ("GROUP", PREFIX, "READ"),
        ("GROUP", PREFIX, "DESCRIBE"),
        ("CLUSTER", KAFKA_CLUSTER_RESOURCE, "IDEMPOTENT_WRITE"),
        ("TRANSACTIONAL_ID", PREFIX, "WRITE"),
        ("TRANSACTIONAL_ID", PREFIX, "DESCRIBE"),
    },
    "admin": {
        *(
            ("TOPIC", PREFIX, op)
            for op in (
                "CREATE",
                "DESCRIBE",
                "ALTER",
                "DELETE",
                "DESCRIBE_CONFIGS",
                "ALTER_CONFIGS",
                "READ",
                "WRITE",
            )
        ),
        ("GROUP", PREFIX, "READ"),
        ("GROUP", PREFIX, "DESCRIBE"),
        ("GROUP", PREFIX, "DELETE"),
        ("TRANSACTIONAL_ID", PREFIX, "WRITE"),
        ("TRANSACTIONAL_ID", PREFIX, "DESCRIBE"),
        ("CLUSTER", KAFKA_CLUSTER_RESOURCE, "IDEMPOTENT_WRITE"),
    },
}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_each_template_compiles_to_the_documented_bindings(template):
    got = compile_(template_policy(template, SCOPE))
    assert {(x.resource_type, x.resource_name, x.operation) for x in got} == (
        TEMPLATE_BINDINGS[template]
    )
    assert all(x.permission == "ALLOW" and x.host == "*" and x.principal == P for x in got)
    assert all(
        x.pattern_type == ("LITERAL" if x.resource_type == "CLUSTER" else "PREFIXED") for x in got
    )


def test_templates_cover_the_model_choices():
    from clusters.models import PolicyTemplate

    assert set(TEMPLATES) == set(PolicyTemplate.values) - {"custom"}


# --- the isolation property ------------------------------------------------------------------

SLUG = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}", fullmatch=True)
SHORT = st.from_regex(r"[A-Za-z0-9._*?-]{0,12}", fullmatch=True)
ACTION = st.one_of(
    st.sampled_from([f"kafka-cluster:{a}" for a in ACTIONS]),
    st.from_regex(r"kafka-cluster:[A-Za-z*?]{1,8}", fullmatch=True),
    st.just("kafka-cluster:*"),
)


@st.composite
def resources(draw, team, cluster):
    kind = draw(st.sampled_from(["topic", "group", "transactional-id", "cluster", "star"]))
    other_team = draw(st.sampled_from([team, team, team, "zz" + team, "*"]))
    other_cluster = draw(st.sampled_from([cluster, cluster, cluster, cluster + "x", "*", ""]))
    if kind == "star":
        return "*"
    if kind == "cluster":
        return f"skiff:kafka:{other_team}:cluster/{other_cluster}"
    return f"skiff:kafka:{other_team}:{kind}/{other_cluster}/{draw(SHORT)}"


@st.composite
def policies(draw):
    team, cluster = draw(SLUG), draw(NAME)
    statements = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "Effect": st.sampled_from(["Allow", "Deny"]),
                    "Action": st.lists(ACTION, min_size=1, max_size=4),
                    "Resource": st.lists(resources(team, cluster), min_size=1, max_size=4),
                }
            ),
            min_size=1,
            max_size=4,
        )
    )
    hosts = draw(st.lists(st.sampled_from(["10.0.0.1", "192.0.2.9", "::1"]), unique=True))
    return ClusterScope(team, cluster), {"Version": "2012-10-17", "Statement": statements}, hosts


@settings(max_examples=400, deadline=None)
@given(policies())
def test_no_policy_reaches_outside_the_cluster_prefix(case):
    scope, doc, hosts = case
    username = f"{scope.prefix}k.abcdef"
    try:
        bindings = compile_policy_to_acls(doc, cluster=scope, username=username, hosts=hosts)
    except PolicyInvalid as exc:
        assert exc.problems  # a refusal always says why
        return
    for x in bindings:
        assert x.principal == f"User:{username}"
        if x.resource_type == "CLUSTER":
            # The only cluster-wide operation a key may get reaches no data of anyone.
            assert (x.resource_name, x.pattern_type, x.operation) == (
                KAFKA_CLUSTER_RESOURCE,
                "LITERAL",
                "IDEMPOTENT_WRITE",
            )
        else:
            assert x.resource_name.startswith(scope.prefix), x
            assert "*" not in x.resource_name and "?" not in x.resource_name
            assert x.operation != "ALL"
        if x.permission == "ALLOW":
            assert x.host in (hosts or ["*"])
        else:
            assert x.host == "*"
