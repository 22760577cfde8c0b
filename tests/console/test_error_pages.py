"""Styled 403, 404 and 500 pages inside the layout, with the navigation (issue 16, item 4).

What `make run` serves with DEBUG off (as pytest runs): Django's handlers are the console's
(console/error_pages.py), and a crashing view shows the styled 500 page, never a traceback.
"""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path, reverse

from console.models import Role
from tests.factories import ClusterFactory, MembershipFactory


def _boom(request) -> HttpResponse:
    raise RuntimeError("secret internals: database is locked")


urlpatterns = [path("boom/", _boom), path("", include("console.urls"))]
handler403 = "console.error_pages.permission_denied"
handler404 = "console.error_pages.page_not_found"
handler500 = "console.error_pages.server_error"

NAV = 'aria-label="Main navigation"'


def _viewer(client: Client):
    membership = MembershipFactory(role=Role.VIEWER)
    client.force_login(membership.user)
    return membership


@pytest.mark.django_db
def test_viewer_sees_no_access_tabs_and_gets_a_styled_403(client):
    membership = _viewer(client)
    cluster = ClusterFactory(team=membership.team)

    page = client.get(reverse("clusters:detail", args=[cluster.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'aria-label="Cluster sections"' in body
    assert reverse("clusters:access", args=[cluster.pk]) not in body
    assert reverse("clusters:acls", args=[cluster.pk]) not in body

    denied = client.get(reverse("clusters:access", args=[cluster.pk]))
    assert denied.status_code == 403
    body = denied.content.decode()
    assert "Not allowed" in body and NAV in body, body[:500]
    assert "tabler.min.css" in body  # inside the layout, styled


@pytest.mark.django_db
def test_developer_sees_the_access_tabs(client):
    membership = MembershipFactory(role=Role.DEVELOPER)
    client.force_login(membership.user)
    cluster = ClusterFactory(team=membership.team)
    body = client.get(reverse("clusters:detail", args=[cluster.pk])).content.decode()
    assert reverse("clusters:access", args=[cluster.pk]) in body
    assert reverse("clusters:acls", args=[cluster.pk]) in body


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_unknown_page_is_the_styled_404(client):
    _viewer(client)
    response = client.get("/clusters/999999/topics/nothing-here/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not found" in body and NAV in body
    assert "Traceback" not in body and "URLconf" not in body


@pytest.mark.django_db
@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_crash_is_the_styled_500_without_traceback(caplog):
    client = Client(raise_request_exception=False)
    _viewer(client)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and NAV in body
    assert "secret internals" not in body and "Traceback" not in body
    # The traceback is in the log.
    assert any("secret internals" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


@pytest.mark.django_db
def test_csrf_failure_is_the_styled_403():
    client = Client(enforce_csrf_checks=True)
    membership = _viewer(client)
    response = client.post(reverse("team_switch"), {"team": membership.team_id})
    assert response.status_code == 403
    body = response.content.decode()
    assert "The form expired" in body and NAV in body
