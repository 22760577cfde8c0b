"""Every bad input is a 4xx (issue 15): one table, each row a request and the status documented
for it. Nothing here may answer 5xx, and no body may carry a traceback or a client error.

The first table needs only the database; the second a real ACTIVE cluster on the test cell.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from clusters.models import AccessKey, Cluster
from clusters.services import topics
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Role
from console.services.teams import api_token_create
from fleet import limits
from tests.factories import ClusterFactory, MembershipFactory

HUGE = "9223372036854775808"  # 2**63: one past a signed 64-bit integer


class Raw(str):
    """A JSON text sent as is."""


class Nested:
    """A JSON object nested `depth` levels deep (json.dumps cannot write one this deep)."""

    def __init__(self, depth: int) -> None:
        self.text = '{"a": ' * depth + '"x"' + "}" * depth


def nested(depth: int) -> Nested:
    return Nested(depth)


def as_json(body: object) -> str:
    if isinstance(body, Raw):
        return body
    if isinstance(body, Nested):
        return body.text
    found: list[Nested] = []

    def placeholder(value: object) -> str:
        assert isinstance(value, Nested)
        found.append(value)
        return f"@@nested{len(found) - 1}@@"

    text = json.dumps(body, default=placeholder)
    for index, value in enumerate(found):
        text = text.replace(f'"@@nested{index}@@"', value.text)
    return text


def client_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="bad-input")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def owner(db):
    return MembershipFactory(team__slug=f"b{uuid.uuid4().hex[:8]}", role=Role.OWNER)


@pytest.fixture
def foreign(db):
    """Another team's cluster, one of its keys and one of its memberships."""
    other = MembershipFactory(team__slug=f"f{uuid.uuid4().hex[:8]}", role=Role.OWNER)
    cluster = ClusterFactory(team=other.team, name="theirs")
    key = AccessKey.objects.create(cluster=cluster, name="k", username=f"u-{uuid.uuid4().hex}")
    return {"cluster": cluster, "key": key, "member": other}


def _check(response, status: int, what: str) -> None:
    body = response.content.decode(errors="replace")
    assert response.status_code == status, f"{what}: {response.status_code} {body[:400]}"
    for raw in ("Traceback", "KafkaException", "_DESTROY", "IntegrityError", "OverflowError"):
        assert raw not in body, f"{what}: raw error text in the body: {body[:400]}"


# (what, method, path, body) → status. `{cluster}` is the caller's own cluster (no Kafka needed:
# each request is refused before the cell is asked), `{theirs}`/`{their_key}`/`{their_member}`
# another team's objects.
DB_TABLE = [
    ("cluster list limit 2**63", "get", f"/api/v1/clusters/?limit={HUGE}", None, 400),
    ("cluster list limit 0", "get", "/api/v1/clusters/?limit=0", None, 400),
    ("cluster list limit not a number", "get", "/api/v1/clusters/?limit=ten", None, 400),
    ("cluster list limit 501", "get", "/api/v1/clusters/?limit=501", None, 400),
    ("cluster list offset 2**63", "get", f"/api/v1/clusters/?offset={HUGE}", None, 400),
    ("cluster list offset -1", "get", "/api/v1/clusters/?offset=-1", None, 400),
    ("member list limit 2**63", "get", f"/api/v1/team/members/?limit={HUGE}", None, 400),
    ("member list offset 2**63", "get", f"/api/v1/team/members/?offset={HUGE}", None, 400),
    ("invoice list limit 2**63", "get", f"/api/v1/invoices/?limit={HUGE}", None, 400),
    ("invoice list offset 2**63", "get", f"/api/v1/invoices/?offset={HUGE}", None, 400),
    ("audit list limit 2**63", "get", f"/api/v1/audit-events/?limit={HUGE}", None, 400),
    ("token list offset 2**63", "get", f"/api/v1/tokens/?offset={HUGE}", None, 400),
    ("key list limit 2**63", "get", f"/api/v1/clusters/{{cluster}}/keys/?limit={HUGE}", None, 400),
    (
        "cluster tags nested 1,000 deep",
        "post",
        "/api/v1/clusters/",
        {"name": "deep", "tags": nested(1000)},
        400,
    ),
    (
        "cluster policy nested 1,000 deep",
        "post",
        "/api/v1/clusters/",
        {"name": "deep", "access": {"policy_template": "custom", "policy_document": nested(1000)}},
        400,
    ),
    (
        "cluster tags nested 100,000 deep (past the parser's own recursion)",
        "post",
        "/api/v1/clusters/",
        Raw('{"name": "deep", "tags": ' + '{"a": ' * 100_000 + '"x"' + "}" * 100_001),
        400,
    ),
    (
        "key policy nested 1,000 deep",
        "post",
        "/api/v1/clusters/{cluster}/keys/",
        {"name": "k", "policy_template": "custom", "policy_document": nested(1000)},
        400,
    ),
    ("malformed JSON", "post", "/api/v1/clusters/", Raw('{"name": '), 400),
    (
        "ACL key id 2**63",
        "post",
        "/api/v1/clusters/{cluster}/acls/",
        {"key_id": int(HUGE), "resource_type": "TOPIC", "operation": "READ"},
        400,
    ),
    (
        "produce over the service's limit",
        "post",
        "/api/v1/clusters/{cluster}/topics/t/messages/",
        {"value": "x" * (limits.MAX_MESSAGE_BYTES + 1)},
        413,
    ),
    # Object lookup before body validation: another team's objects are 404 whatever the body.
    (
        "PATCH another team's topic with a bad body",
        "patch",
        "/api/v1/clusters/{theirs}/topics/x/",
        {"configs": "not an object"},
        404,
    ),
    (
        "PATCH another team's topic with a body nested 1,000 deep",
        "patch",
        "/api/v1/clusters/{theirs}/topics/x/",
        {"configs": nested(1000)},
        404,
    ),
    (
        "create a topic in another team's cluster with a bad body",
        "post",
        "/api/v1/clusters/{theirs}/topics/",
        {"partitions": "many"},
        404,
    ),
    (
        "produce to another team's topic with a bad body",
        "post",
        "/api/v1/clusters/{theirs}/topics/x/messages/",
        {"partition": "first"},
        404,
    ),
    (
        "add partitions to another team's topic with a bad body",
        "post",
        "/api/v1/clusters/{theirs}/topics/x/partitions/",
        {},
        404,
    ),
    (
        "reset another team's group with a bad body",
        "post",
        "/api/v1/clusters/{theirs}/consumer-groups/g/reset-offsets/",
        {"to": "nowhere"},
        404,
    ),
    (
        "set another team's key policy with a bad body",
        "put",
        "/api/v1/clusters/{theirs}/keys/{their_key}/policy/",
        {"policy_template": ["x"]},
        404,
    ),
    (
        "another team's key id under my cluster with a bad body",
        "put",
        "/api/v1/clusters/{cluster}/keys/{their_key}/policy/",
        {"policy_template": ["x"]},
        404,
    ),
    (
        "create a key in another team's cluster with a bad body",
        "post",
        "/api/v1/clusters/{theirs}/keys/",
        {"name": ""},
        404,
    ),
    (
        "add an ACL in another team's cluster with a bad body",
        "post",
        "/api/v1/clusters/{theirs}/acls/",
        {"key_id": "x"},
        404,
    ),
    (
        "change another team's member's role with a bad body",
        "patch",
        "/api/v1/team/members/{their_member}/",
        {"role": "emperor"},
        404,
    ),
]


@pytest.mark.parametrize(
    ("what", "method", "path", "body", "status"), DB_TABLE, ids=[row[0] for row in DB_TABLE]
)
def test_bad_input_is_a_4xx(owner, foreign, what, method, path, body, status):
    mine = ClusterFactory(team=owner.team, name="mine")
    url = path.format(
        cluster=mine.pk,
        theirs=foreign["cluster"].pk,
        their_key=foreign["key"].pk,
        their_member=foreign["member"].pk,
    )
    api = client_for(owner)
    kwargs = {}
    if body is not None:
        kwargs = {"data": as_json(body), "content_type": "application/json"}
    response = getattr(api, method)(url, **kwargs)
    _check(response, status, what)
    assert not Cluster.objects.filter(team=owner.team, name="deep").exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_bodies_over_the_limit(owner):
    """JSON bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: the API answers 413 naming the limit,
    before any parsing; a form body is a 415 (the API takes JSON only); a console form post
    over the limit is Django's 400."""
    api = client_for(owner)
    big = json.dumps({"name": "big", "tags": {"t": "x" * 20_000}})
    response = api.post("/api/v1/clusters/", data=big, content_type="application/json")
    _check(response, 413, "JSON body over the limit")
    assert response.json()["code"] == "payload_too_large"
    assert "10,000" in response.json()["detail"]
    form = api.post(
        "/api/v1/clusters/",
        data="name=big&x=" + "y" * 20_000,
        content_type="application/x-www-form-urlencoded",
    )
    _check(form, 415, "form-encoded API body (JSON only)")
    page = APIClient().post(
        "/login/",
        data="username=a&password=" + "y" * 20_000,
        content_type="application/x-www-form-urlencoded",
    )
    _check(page, 400, "console form post over the limit")


# --- against the real cell --------------------------------------------------------------------


@pytest.fixture
def active(cell, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=owner.team,
            user=owner.user,
            spec=ClusterSpec(name="bad", policy_template="admin"),
        )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    topics.invalidate_topic_cache()
    topics.topic_create(cluster=created.cluster, name="t", partitions=1, configs={})
    return created.cluster


KAFKA_TABLE = [
    (
        "timestamp 10**20",
        "get",
        "t/messages/?mode=timestamp&timestamp=99999999999999999999",
        None,
        400,
    ),
    ("timestamp -1", "get", "t/messages/?mode=timestamp&timestamp=-1", None, 400),
    ("timestamp year 99999", "get", "t/messages/?mode=timestamp&timestamp=99999-01-01", None, 400),
    ("offset 10**20", "get", "t/messages/?mode=offset&offset=99999999999999999999", None, 400),
    ("offset -5", "get", "t/messages/?mode=offset&offset=-5", None, 400),
    ("partition 2**63", "get", f"t/messages/?partition={HUGE}", None, 400),
    ("limit 2**63", "get", f"t/messages/?limit={HUGE}", None, 400),
    (
        "produce to partition 2**63",
        "post",
        "t/messages/",
        {"value": "v", "partition": int(HUGE)},
        400,
    ),
    (
        "produce over the topic's max.message.bytes",
        "post",
        "t/messages/",
        {"value": "x" * (2 * 1024 * 1024)},
        413,
    ),
    (
        "reset offsets to timestamp 10**20",
        "post",
        "../consumer-groups/g/reset-offsets/",
        {"to": "timestamp", "timestamp": "99999999999999999999"},
        400,
    ),
    ("PATCH a topic that does not exist, bad body", "patch", "nope/", {"configs": 5}, 404),
    ("PATCH a topic with a bad body", "patch", "t/", {"configs": 5}, 400),
]


def test_bad_input_against_the_cell_is_a_4xx(active, owner):
    api = client_for(owner)
    base = f"/api/v1/clusters/{active.pk}/topics/"
    failures = []
    for what, method, path, body, status in KAFKA_TABLE:
        kwargs = {}
        if body is not None:
            kwargs = {"data": as_json(body), "content_type": "application/json"}
        url = base + path if not path.startswith("../") else base[: -len("topics/")] + path[3:]
        response = getattr(api, method)(url, **kwargs)
        try:
            _check(response, status, what)
        except AssertionError as exc:
            failures.append(str(exc))
        if what.startswith("produce over the topic"):
            detail = response.json().get("detail", "")
            if "max.message.bytes" not in detail or "1,048,588" not in detail:
                failures.append(f"{what}: the 413 does not name the topic's limit: {detail}")
    assert not failures, "\n".join(failures)
