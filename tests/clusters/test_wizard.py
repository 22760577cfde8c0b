"""The create wizard's flow with Django's test client (provisioning itself is not run here)."""

import pytest
from django.test import Client

from clusters.models import Cluster, ClusterDraft
from console.models import Role
from tests.factories import MembershipFactory


@pytest.fixture
def developer_client(client, db):
    membership = MembershipFactory(team__slug="acme", role=Role.DEVELOPER)
    client.force_login(membership.user)
    return client


def start(client) -> str:
    response = client.get("/clusters/new/")
    assert response.status_code == 302
    return response["Location"].rsplit("/", 2)[0]  # /clusters/new/<uuid>


def fill_all_steps(client, base, name="orders"):
    assert (
        client.post(f"{base}/type/", {"cluster_type": "serverless", "nav": "next"}).status_code
        == 302
    )
    response = client.post(f"{base}/name/", {"name": name, "tags": "env=prod", "nav": "next"})
    assert response.status_code == 302, response.content
    response = client.post(
        f"{base}/settings/",
        {"policy_template": "produce_consume", "allowed_client_ips": "", "nav": "next"},
    )
    assert response.status_code == 302, response.content


def test_step_errors_are_shown_and_nothing_is_created(developer_client):
    base = start(developer_client)
    response = developer_client.post(
        f"{base}/type/", {"cluster_type": "provisioned", "nav": "next"}
    )
    assert response.status_code == 400 and b"not available yet" in response.content
    response = developer_client.post(f"{base}/name/", {"name": "x" * 65, "nav": "next"})
    assert response.status_code == 400 and "1–64 chars" in response.content.decode()
    response = developer_client.post(
        f"{base}/settings/",
        {"policy_template": "custom", "policy_document": "{not json", "nav": "next"},
    )
    assert response.status_code == 400 and b"Not valid JSON" in response.content
    assert not Cluster.objects.exists()


def test_back_keeps_unvalidated_input_and_the_draft_survives_a_new_visit(developer_client):
    base = start(developer_client)
    developer_client.post(f"{base}/name/", {"name": "not valid!", "tags": "a=b", "nav": "back"})
    page = developer_client.get(f"{base}/name/").content.decode()
    assert 'value="not valid!"' in page and "a=b" in page
    assert start(developer_client) == base  # "Create cluster" again resumes the same draft


def test_double_submit_creates_one_cluster(developer_client):
    base = start(developer_client)
    fill_all_steps(developer_client, base)
    first = developer_client.post(f"{base}/review/", {"nav": "create"})
    assert first.status_code == 201
    assert b"Save this secret now" in first.content
    second = developer_client.post(f"{base}/review/", {"nav": "create"})
    assert second.status_code == 302
    cluster = Cluster.objects.get()
    assert second["Location"] == f"/clusters/{cluster.pk}/"
    assert ClusterDraft.objects.get().cluster == cluster


def test_review_reports_a_name_taken_meanwhile(developer_client):
    base = start(developer_client)
    fill_all_steps(developer_client, base, name="dup")
    other = developer_client.get("/clusters/new/?fresh=1")["Location"].rsplit("/", 2)[0]
    fill_all_steps(developer_client, other, name="dup")
    assert developer_client.post(f"{other}/review/", {"nav": "create"}).status_code == 201
    response = developer_client.post(f"{base}/review/", {"nav": "create"})
    assert response.status_code == 400
    assert b"already has a cluster named" in response.content
    assert Cluster.objects.count() == 1


def test_viewer_cannot_open_the_wizard(client, db):
    viewer = MembershipFactory(role=Role.VIEWER)
    client.force_login(viewer.user)
    assert client.get("/clusters/new/").status_code == 403


def test_another_users_draft_is_a_404(developer_client):
    base = start(developer_client)
    intruder = MembershipFactory(role=Role.OWNER)
    other = Client()
    other.force_login(intruder.user)
    assert other.get(f"{base}/name/").status_code == 404


def test_delete_asks_for_the_name(developer_client):
    base = start(developer_client)
    fill_all_steps(developer_client, base)
    developer_client.post(f"{base}/review/", {"nav": "create"})
    cluster = Cluster.objects.get()
    Cluster.objects.filter(pk=cluster.pk).update(state=Cluster.State.ACTIVE)
    response = developer_client.post(f"/clusters/{cluster.pk}/delete/", {"confirm_name": "nope"})
    assert response.status_code == 400 and b"exactly" in response.content
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.ACTIVE
