"""Tags change after creation (issue 16): the overview's editor and PATCH /api/v1/clusters/{id}/,
validated as at creation and audited; the wizard's review says what can change, and where."""

import html

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clusters.models import Cluster
from clusters.views.clusters import ENCRYPTION_AT_REST
from console.models import AuditEvent, Role
from console.services.teams import api_token_create
from fleet import limits
from tests.factories import ClusterFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def api_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="tags")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def member():
    return MembershipFactory(role=Role.DEVELOPER)


@pytest.fixture
def cluster(member):
    return ClusterFactory(team=member.team, tags={"env": "dev"})


def test_patch_replaces_the_tags_validates_them_like_create_and_audits(member, cluster):
    api = api_for(member)
    url = f"/api/v1/clusters/{cluster.pk}/"

    changed = api.patch(url, {"tags": {"env": "prod", "owner": "payments"}}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["tags"] == {"env": "prod", "owner": "payments"}
    cluster.refresh_from_db()
    assert cluster.tags == {"env": "prod", "owner": "payments"}
    event = AuditEvent.objects.get(action="cluster.tags")
    assert event.before == {"tags": {"env": "dev"}}
    assert event.after == {"tags": {"env": "prod", "owner": "payments"}}

    # The same rules as at creation: a bad key, too many tags, not an object.
    bad_key = api.patch(url, {"tags": {"no#hash": "x"}}, format="json")
    assert bad_key.status_code == 400 and "Tag key 'no#hash'" in str(bad_key.json())
    many = {f"k{i}": "v" for i in range(limits.MAX_TAGS + 1)}
    too_many = api.patch(url, {"tags": many}, format="json")
    assert too_many.status_code == 400 and f"At most {limits.MAX_TAGS} tags" in str(too_many.json())
    assert api.patch(url, {"tags": "env=prod"}, format="json").status_code == 400
    cluster.refresh_from_db()
    assert cluster.tags == {"env": "prod", "owner": "payments"}

    # Refusals record nothing; an empty object removes every tag.
    assert AuditEvent.objects.filter(action="cluster.tags").count() == 1
    assert api.patch(url, {"tags": {}}, format="json").json()["tags"] == {}
    assert AuditEvent.objects.filter(action="cluster.tags").count() == 2


def test_a_viewer_cannot_change_tags(cluster):
    viewer = MembershipFactory(team=cluster.team, role=Role.VIEWER)
    refused = api_for(viewer).patch(
        f"/api/v1/clusters/{cluster.pk}/", {"tags": {"x": "y"}}, format="json"
    )
    assert refused.status_code == 403
    page = MembershipFactory(team=cluster.team, role=Role.VIEWER)
    from django.test import Client

    browser = Client()
    browser.force_login(page.user)
    overview = browser.get(reverse("clusters:detail", args=[cluster.pk])).content.decode()
    assert "Edit tags" not in overview
    assert (
        browser.post(reverse("clusters:tags", args=[cluster.pk]), {"tags": "x=y"}).status_code
        == 403
    )


def test_the_overview_edits_tags_and_shows_a_mistake_beside_the_box(member, cluster, client):
    client.force_login(member.user)
    overview = client.get(reverse("clusters:detail", args=[cluster.pk])).content.decode()
    assert "Edit tags" in overview and "env=dev</textarea>" in overview
    assert "Change on the Access tab" in overview  # allowed IPs: where they change

    saved = client.post(
        reverse("clusters:tags", args=[cluster.pk]), {"tags": "env=prod\nteam=web"}, follow=True
    )
    assert saved.status_code == 200 and "Tags saved." in saved.content.decode()
    assert Cluster.objects.get(pk=cluster.pk).tags == {"env": "prod", "team": "web"}

    bad = client.post(reverse("clusters:tags", args=[cluster.pk]), {"tags": "env=a\nenv=b"})
    assert bad.status_code == 400
    assert "the tag &#x27;env&#x27; is given twice" in bad.content.decode()
    assert "env=a\nenv=b</textarea>" in bad.content.decode()  # what was typed stays
    assert Cluster.objects.get(pk=cluster.pk).tags == {"env": "prod", "team": "web"}


def test_the_wizard_review_says_what_can_change_and_states_no_encryption_it_lacks(member, client):
    client.force_login(member.user)
    start = client.get(reverse("clusters:create"), follow=True)
    assert start.status_code == 200
    draft_url = start.redirect_chain[-1][0]
    # type → name → settings → review
    page = client.post(draft_url, {"cluster_type": "serverless"}, follow=True)
    page = client.post(
        page.redirect_chain[-1][0], {"name": "orders", "tags": "env=test"}, follow=True
    )
    settings_html = page.content.decode()
    assert "Service-managed" not in settings_html
    assert "encrypted disks" in settings_html
    page = client.post(
        page.redirect_chain[-1][0],
        {"policy_template": "produce_consume", "allowed_client_ips": ""},
        follow=True,
    )
    review = page.content.decode()
    assert 'id="review"' in review or "Create cluster" in review
    rows = {label: can_change for label, can_change in _review_rows(review)}
    assert rows["Tags"] == "Yes (the cluster's overview)"
    assert rows["Allowed client IPs"] == "Yes (the Access tab)"
    assert rows["Encryption at rest"] == "Set by the platform, not per cluster"
    assert ENCRYPTION_AT_REST.split(";")[0] in html.unescape(review)
    assert "Service-managed" not in review


def _review_rows(page: str):
    import html
    import re

    for label, _value, can_change in re.findall(
        r'<tr><th scope="row">(.*?)</th><td[^>]*>(.*?)</td><td>(.*?)</td></tr>', page, re.S
    ):
        yield html.unescape(label), html.unescape(can_change)
