"""Access pages and API against the real cell: what a user clicks and what a script calls."""

import pytest
from rest_framework.test import APIClient

from clusters.models import AccessKey, ManualAclBinding
from console.models import AuditEvent, Role
from console.services.teams import api_token_create
from tests.clusters.access_helpers import active_cluster, new_member
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import settled_acls


def api_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def env(cell, db, django_capture_on_commit_callbacks):
    member = new_member("web")
    cluster, key, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    return member, cluster, key


def test_api_keys_rotate_policy_dry_run_acls_and_revoke(env, cell, admin_connection):
    member, cluster, _initial = env
    api = api_for(member)
    base = f"/api/v1/clusters/{cluster.pk}"

    listed = api.get(f"{base}/keys/").json()  # a page, like every list
    assert listed["count"] == 1 and [k["name"] for k in listed["results"]] == ["initial"]
    assert "secret" not in listed["results"][0]

    bad = api.post(f"{base}/keys/", {"name": "x y"}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()

    created = api.post(
        f"{base}/keys/", {"name": "svc", "policy_template": "consumer"}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert len(body["secret"]) >= 32
    assert any(body["secret"] in s["text"] for s in body["snippets"])
    key_url = f"{base}/keys/{body['id']}/"

    detail = api.get(key_url).json()
    assert "secret" not in detail
    assert {q["name"] for q in detail["quotas"]} >= {"producer_byte_rate", "consumer_byte_rate"}
    assert all(q["expected"] == q["current"] for q in detail["quotas"])

    # Policy: GET, invalid PUT (400, names the statement), dry run, then apply.
    policy_url = f"{key_url}policy/"
    assert api.get(policy_url).json()["policy_template"] == "consumer"
    team, name = cluster.team.slug, cluster.name
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kafka-cluster:WriteData",
                "Resource": f"skiff:kafka:{team}:topic/{name}/out*",
            }
        ],
    }
    broken = {**doc, "Statement": [{**doc["Statement"][0], "Resource": "*x"}]}
    refused = api.put(policy_url, {"policy_document": broken}, format="json")
    assert refused.status_code == 400
    assert "Statement 1" in refused.json()["policy_document"][0]
    principal = f"User:{body['username']}"
    before = gateway.describe_acls(admin_connection, principal)
    dry = api.put(f"{policy_url}?dry_run=1", {"policy_document": doc}, format="json").json()
    assert dry["applied"] is False
    assert {(b["operation"], b["short_name"]) for b in dry["bindings"]} == {
        ("WRITE", "out*"),
        ("DESCRIBE", "out*"),
    }
    assert gateway.describe_acls(admin_connection, principal) == before
    applied = api.put(policy_url, {"policy_document": doc}, format="json").json()
    assert applied["applied"] is True
    settled_acls(
        admin_connection,
        principal,
        lambda acls: {b.operation for b in acls} == {"WRITE", "DESCRIBE"},
    )

    # Manual ACLs inside the namespace only; listed from the cell with their source.
    outside = api.post(
        f"{base}/acls/",
        {"key_id": body["id"], "resource_type": "TOPIC", "name": "../x", "operation": "READ"},
        format="json",
    )
    assert outside.status_code == 400
    cluster_wide = api.post(
        f"{base}/acls/",
        {"key_id": body["id"], "resource_type": "CLUSTER", "operation": "ALTER"},
        format="json",
    )
    assert cluster_wide.status_code == 400 and "operation" in cluster_wide.json()
    manual = api.post(
        f"{base}/acls/",
        {"key_id": body["id"], "resource_type": "TOPIC", "name": "audit", "operation": "READ"},
        format="json",
    )
    assert manual.status_code == 201, manual.json()
    rows = api.get(f"{base}/acls/").json()["results"]
    sources = {(r["key_name"], r["short_name"], r["operation"]): r["source"] for r in rows}
    assert sources[("svc", "audit", "READ")] == "manual"
    assert sources[("svc", "out*", "WRITE")] == "policy"
    assert all(
        r["resource_name"].startswith(cluster.wire_prefix)
        for r in rows
        if r["resource_type"] != "CLUSTER"
    )
    deleted = api.delete(f"{base}/acls/?id={manual.json()['id']}")
    assert deleted.status_code == 204
    assert not ManualAclBinding.objects.filter(pk=manual.json()["id"]).exists()

    rotated = api.post(f"{key_url}rotate/").json()
    assert rotated["secret"] != body["secret"]
    revoked = api.delete(key_url)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    settled_acls(admin_connection, principal, lambda acls: acls == [])
    actions = set(AuditEvent.objects.filter(team=cluster.team).values_list("action", flat=True))
    assert {
        "key.create",
        "key.policy",
        "acl.create",
        "acl.delete",
        "key.rotate",
        "key.revoke",
    } <= actions


def test_api_scoping_and_roles(env):
    member, cluster, _initial = env
    stranger = MembershipFactory(team__slug=f"{member.team.slug}z")
    assert api_for(stranger).get(f"/api/v1/clusters/{cluster.pk}/keys/").status_code == 404
    viewer = MembershipFactory(team=member.team, role=Role.VIEWER)
    viewer_api = api_for(viewer)
    assert viewer_api.get(f"/api/v1/clusters/{cluster.pk}/keys/").status_code == 403
    billing = MembershipFactory(team=member.team, role=Role.BILLING)
    assert (
        api_for(billing)
        .post(f"/api/v1/clusters/{cluster.pk}/keys/", {"name": "n"}, format="json")
        .status_code
        == 403
    )


def test_schema_lists_the_access_endpoints(client, db):
    schema = client.get("/api/schema/").content.decode()
    for path in (
        "/api/v1/clusters/{id}/keys/",
        "/api/v1/clusters/{id}/keys/{key_id}/",
        "/api/v1/clusters/{id}/keys/{key_id}/rotate/",
        "/api/v1/clusters/{id}/keys/{key_id}/policy/",
        "/api/v1/clusters/{id}/acls/",
    ):
        assert path in schema


def test_pages_create_preview_save_rotate_revoke_and_allow_list(env, client, cell):
    member, cluster, initial = env
    client.force_login(member.user)
    base = f"/clusters/{cluster.pk}"
    page = client.get(f"{base}/access/").content.decode()
    assert "initial" in page and initial.username in page and "Create key" in page

    bad = client.post(f"{base}/access/keys/new/", {"name": "", "policy_template": "producer"})
    assert bad.status_code == 400 and "Key name may use" in bad.content.decode()

    made = client.post(
        f"{base}/access/keys/new/", {"name": "web-app", "policy_template": "producer"}
    )
    assert made.status_code == 201
    text = made.content.decode()
    assert "Save this secret now" in text
    key = AccessKey.objects.get(cluster=cluster, name="web-app")
    assert key.username in text and "sasl.password" in text

    key_page = client.get(f"{base}/access/keys/{key.pk}/").content.decode()
    assert "Producer byte rate" in key_page and "On the broker now" in key_page

    team, name = cluster.team.slug, cluster.name
    bad_doc = (
        '{"Version": "2012-10-17", "Statement": [{"Sid": "Oops", "Effect": "Allow", '
        '"Action": "kafka-cluster:ReadData", '
        f'"Resource": "skiff:kafka:{team}:topic/other-cluster/x"}}]}}'
    )
    preview = client.post(
        f"{base}/access/keys/{key.pk}/policy/preview/",
        {"policy_template": "custom", "policy_document": bad_doc},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Statement 1 (Sid &#x27;Oops&#x27;)" in preview and "other-cluster" in preview
    good_doc = bad_doc.replace("other-cluster/x", f"{name}/pay*")
    preview = client.post(
        f"{base}/access/keys/{key.pk}/policy/preview/",
        {"policy_template": "custom", "policy_document": good_doc},
    ).content.decode()
    assert "pay*" in preview and "READ" in preview and "PREFIXED" in preview
    refused = client.post(
        f"{base}/access/keys/{key.pk}/policy/",
        {"policy_template": "custom", "policy_document": bad_doc},
    )
    assert refused.status_code == 400 and "Not saved" in refused.content.decode()
    saved = client.post(
        f"{base}/access/keys/{key.pk}/policy/",
        {"policy_template": "custom", "policy_document": good_doc},
    )
    assert saved.status_code == 302
    key.refresh_from_db()
    assert key.policy_template == "custom"

    acl_page = client.get(f"{base}/acls/").content.decode()
    assert "from policy" in acl_page and "pay*" in acl_page
    added = client.post(
        f"{base}/acls/add/",
        {"key": key.pk, "kind": "consumer", "topic": "orders", "group": "orders-app"},
    )
    assert added.status_code == 302
    assert key.manual_acls.count() == 4
    assert "manual" in client.get(f"{base}/acls/").content.decode()

    rotated = client.post(f"{base}/access/keys/{key.pk}/rotate/")
    assert "Save this secret now" in rotated.content.decode()

    ips = client.post(f"{base}/access/network/", {"ips": "10.1.2.3/8"}, follow=True)
    assert "CIDR range" in ips.content.decode()
    client.post(f"{base}/access/network/", {"ips": "127.0.0.1\n192.0.2.1"})
    cluster.refresh_from_db()
    assert cluster.allowed_client_ips == ["127.0.0.1", "192.0.2.1"]

    revoked = client.post(f"{base}/access/keys/{key.pk}/revoke/", follow=True)
    assert "is revoked" in revoked.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None and not key.manual_acls.exists()
    # Never a secret on pages after creation.
    page = client.get(f"{base}/access/").content.decode()
    assert "Save this secret now" not in page


def test_viewer_sees_but_cannot_change(env, client):
    member, cluster, _initial = env
    viewer = MembershipFactory(team=member.team, role=Role.VIEWER)
    client.force_login(viewer.user)
    # A viewer has no access.view: keys are not for every role.
    assert client.get(f"/clusters/{cluster.pk}/access/").status_code == 403
    developer = MembershipFactory(team=member.team, role=Role.DEVELOPER)
    client.force_login(developer.user)
    assert client.get(f"/clusters/{cluster.pk}/access/").status_code == 200
    stranger = new_member("str")
    client.force_login(stranger.user)
    assert client.get(f"/clusters/{cluster.pk}/access/").status_code == 404
