"""The clusters API: same services as the pages, JSON errors, team scoping."""

import uuid

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster
from console.models import Role
from console.services.teams import api_token_create
from tests.factories import ClusterFactory, MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import settled_acls


def client_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def developer(db):
    return MembershipFactory(team__slug=f"a{uuid.uuid4().hex[:8]}", role=Role.DEVELOPER)


def test_create_describe_delete_leaves_nothing_on_the_cell(
    cell, developer, admin_connection, django_capture_on_commit_callbacks
):
    api = client_for(developer)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/clusters/",
            {
                "name": "payments",
                "type": "serverless",
                "tags": {"env": "test"},
                "access": {"policy_template": "admin"},
                "network": {"allowed_client_ips": []},
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    # In a test transaction provisioning runs when the capture block ends, after the response.
    assert body["state"] in {"CREATING", "ACTIVE"}
    assert body["prefix"] == f"{developer.team.slug}.payments."
    username, secret = body["initial_key"]["username"], body["initial_key"]["secret"]
    assert len(secret) >= 32 and username in gateway.list_scram_users(admin_connection)

    detail = api.get(f"/api/v1/clusters/{body['id']}/").json()
    assert detail["state"] == "ACTIVE" and "initial_key" not in detail
    assert detail["bootstrap_servers"] == cell.bootstrap_servers
    assert detail["limits"]["max_partitions"] == 2400
    ca = api.get(f"/api/v1/clusters/{body['id']}/ca.pem")
    assert ca.status_code == 200 and b"BEGIN CERTIFICATE" in b"".join(ca.streaming_content)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = api.delete(f"/api/v1/clusters/{body['id']}/")
    assert deleted.status_code == 202
    assert Cluster.objects.get(pk=body["id"]).state == Cluster.State.DELETED
    assert api.get(f"/api/v1/clusters/{body['id']}/").status_code == 404
    # The credential is revoked (see gateway.revoke_scram_user): the secret no longer logs in.
    key = gateway.KafkaConnection(cell.bootstrap_servers, username, secret, cell.ca_path, timeout=5)
    with pytest.raises(gateway.KafkaAuthenticationFailed):
        gateway.produce(key, f"{developer.team.slug}.payments.x", [b"x"])
    settled_acls(admin_connection, f"User:{username}", lambda acls: not acls)
    assert not gateway.describe_user_quotas(admin_connection, username).get(username)


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": "bad name"}, "name", "letters, digits and '-'"),
        ({"name": "x" * 65}, "name", "1–64"),
        (
            {"name": "ok", "network": {"allowed_client_ips": ["10.0.0.0/8"]}},
            "allowed_client_ips",
            "CIDR",
        ),
        ({"name": "ok", "access": {"policy_template": "root"}}, "policy_template", "Unknown"),
        ({"name": "ok", "type": "provisioned"}, "type", "not a valid choice"),
    ],
)
def test_bad_input_is_a_field_level_json_error_and_creates_nothing(
    developer, payload, field, message
):
    response = client_for(developer).post("/api/v1/clusters/", payload, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Cluster.objects.exists()


def test_duplicate_name_is_refused(developer):
    ClusterFactory(team=developer.team, name="dup")
    response = client_for(developer).post("/api/v1/clusters/", {"name": "dup"}, format="json")
    assert response.status_code == 400 and "already has a cluster" in response.json()["name"][0]


def test_viewer_cannot_create_or_delete(db):
    viewer = MembershipFactory(role=Role.VIEWER)
    cluster = ClusterFactory(team=viewer.team)
    api = client_for(viewer)
    assert api.post("/api/v1/clusters/", {"name": "x"}, format="json").status_code == 403
    assert api.delete(f"/api/v1/clusters/{cluster.pk}/").status_code == 403
    assert api.get(f"/api/v1/clusters/{cluster.pk}/").status_code == 200


def test_another_teams_cluster_is_a_404_for_every_verb(developer):
    foreign = ClusterFactory()
    api = client_for(developer)
    assert api.get(f"/api/v1/clusters/{foreign.pk}/").status_code == 404
    assert api.delete(f"/api/v1/clusters/{foreign.pk}/").status_code == 404
    assert api.get(f"/api/v1/clusters/{foreign.pk}/ca.pem").status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == Cluster.State.ACTIVE
