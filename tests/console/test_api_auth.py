from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import Role
from console.services.teams import api_token_create
from tests.factories import ClusterFactory, MembershipFactory


def token_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def team_a_token(db):
    membership = MembershipFactory(team__slug="team-a", role=Role.DEVELOPER)
    _, raw = api_token_create(user=membership.user, team=membership.team, name="ci")
    return membership, raw


def test_token_reaches_an_authenticated_endpoint(team_a_token):
    _, raw = team_a_token
    response = token_client(raw).get("/api/v1/team/")
    assert response.status_code == 200
    assert response.json()["slug"] == "team-a"
    assert response.json()["role"] == "developer"
    assert "cluster.manage" in response.json()["permissions"]


def test_no_token_or_a_bad_token_is_refused(db):
    assert APIClient().get("/api/v1/team/").status_code in (401, 403)
    response = token_client("skf_not-a-real-token").get("/api/v1/team/")
    assert response.status_code == 401


def test_team_a_token_cannot_see_team_b_objects(team_a_token):
    membership, raw = team_a_token
    own = ClusterFactory(team=membership.team, name="mine")
    foreign = ClusterFactory(name="theirs")  # another team
    client = token_client(raw)
    listing = client.get("/api/v1/clusters/").json()
    assert [c["name"] for c in listing["results"]] == ["mine"]
    assert client.get(f"/api/v1/clusters/{own.id}/").status_code == 200
    assert client.get(f"/api/v1/clusters/{foreign.id}/").status_code == 404


def test_a_token_acts_only_for_its_own_team_even_if_the_user_has_others(team_a_token):
    membership, raw = team_a_token
    other = MembershipFactory(user=membership.user, team__slug="team-b")
    ClusterFactory(team=other.team, name="b-cluster")
    names = [c["name"] for c in token_client(raw).get("/api/v1/clusters/").json()["results"]]
    assert names == []


def test_revoked_and_expired_tokens_stop_working(team_a_token):
    membership, raw = team_a_token
    short, raw_expired = api_token_create(
        user=membership.user,
        team=membership.team,
        name="short",
        expires_at=timezone.now() + timedelta(minutes=1),
    )
    assert token_client(raw_expired).get("/api/v1/team/").status_code == 200
    short.__class__.objects.filter(pk=short.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert token_client(raw_expired).get("/api/v1/team/").status_code == 401
    membership.user.api_tokens.filter(name="ci").update(revoked_at=timezone.now())
    assert token_client(raw).get("/api/v1/team/").status_code == 401


def test_token_of_a_user_who_left_the_team_no_longer_acts(team_a_token):
    membership, raw = team_a_token
    membership.delete()
    assert token_client(raw).get("/api/v1/team/").status_code == 403


def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/clusters/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
