"""The audit log: page filters, CSV export, API, immutability, and who acted from where."""

import csv
import io
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from console.audit import Actor, acting_as, audit_record
from console.models import AuditEvent, Role
from console.services.teams import api_token_create
from tests.factories import ClusterFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return MembershipFactory(role=Role.OWNER, team__slug="acme")


@pytest.fixture
def events(owner):
    ada = MembershipFactory(team=owner.team, role=Role.ADMIN, user__email="ada@example.com")
    cluster = ClusterFactory(team=owner.team, name="orders")
    made = []
    for day, who, action, target in [
        (1, ada.user, "cluster.create", cluster),
        (2, owner.user, "member.role_change", ada),
        (3, ada.user, "cluster.delete", cluster),
        (4, None, "member.remove", ada),
    ]:
        with acting_as(Actor(user=who, ip="10.0.0.7")):
            event = audit_record(team=owner.team, action=action, target=target)
        AuditEvent.objects.filter(pk=event.pk).update(
            occurred_at=datetime(2026, 5, day, 12, tzinfo=UTC)
        )
        made.append(event)
    other = MembershipFactory(role=Role.OWNER, team__slug="other")
    audit_record(team=other.team, action="cluster.create", target=ClusterFactory(team=other.team))
    return made


def page_rows(client, query=""):
    response = client.get("/team/audit/" + query)
    assert response.status_code == 200
    return [e.action for e in response.context["page"].object_list]


def test_page_lists_the_team_events_newest_first_and_filters(client, owner, events):
    client.force_login(owner.user)
    assert page_rows(client) == [
        "member.remove",
        "cluster.delete",
        "member.role_change",
        "cluster.create",
    ]
    assert page_rows(client, "?actor=ada@") == ["cluster.delete", "cluster.create"]
    assert page_rows(client, "?action=member.") == ["member.remove", "member.role_change"]
    assert page_rows(client, "?action=cluster.create") == ["cluster.create"]
    assert page_rows(client, "?target=orders") == ["cluster.delete", "cluster.create"]
    assert page_rows(client, "?since=2026-05-02&until=2026-05-03") == [
        "cluster.delete",
        "member.role_change",
    ]
    assert page_rows(client, "?actor=system") == ["member.remove"]
    page = client.get("/team/audit/?since=2026-05-04&until=2026-05-01").content
    assert b"The end date is before the start date." in page


def test_csv_export_follows_the_filters_and_neutralises_formulas(client, owner, events):
    audit_record(team=owner.team, action="cluster.create", target_repr="=HYPERLINK(1)")
    client.force_login(owner.user)
    response = client.get("/team/audit/export.csv?action=cluster.create")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="skiff-audit-acme-' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["cluster.create", "cluster.create"]
    assert rows[0]["object"] == "'=HYPERLINK(1)"
    assert rows[1]["actor"] == "ada@example.com" and rows[1]["source_ip"] == "10.0.0.7"
    assert rows[1]["occurred_at"].startswith("2026-05-01T12:00:00")
    assert client.get("/team/audit/export.csv?since=bad").status_code == 400


def test_api_lists_filters_and_is_read_only(owner, events):
    _, raw = api_token_create(user=owner.user, team=owner.team, name="auditor")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    body = api.get("/api/v1/audit-events/?action=member.&since=2026-05-01").json()
    assert [e["action"] for e in body["results"]] == ["member.remove", "member.role_change"]
    first = body["results"][1]
    assert first["actor_user"] == owner.user.email and first["source_ip"] == "10.0.0.7"
    assert first["object_type"] == "membership"
    assert api.get("/api/v1/audit-events/?until=yesterday").status_code == 400
    event_id = events[0].pk
    assert api.delete(f"/api/v1/audit-events/{event_id}/").status_code == 405
    assert api.patch(f"/api/v1/audit-events/{event_id}/", {}, format="json").status_code == 405
    assert api.post("/api/v1/audit-events/", {}, format="json").status_code == 405


def test_events_cannot_be_edited_or_deleted(events):
    event = events[0]
    event.action = "cluster.tampered"
    with pytest.raises(ValueError, match="immutable"):
        event.save()
    with pytest.raises(ValueError, match="never deleted"):
        event.delete()


def test_a_token_call_records_the_token_and_the_address(owner, settings):
    settings.SKIFF_TRUSTED_PROXIES = 1
    token, raw = api_token_create(user=owner.user, team=owner.team, name="deploy")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    response = api.post(
        "/api/v1/tokens/",
        {"name": "child"},
        format="json",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.10",
    )
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="token.create", target_id=str(response.json()["id"]))
    assert event.actor_token == token and event.actor_user == owner.user
    assert event.actor_repr == f"{owner.user.email} (token deploy)"
    assert event.source_ip == "192.0.2.10"  # what the proxy saw, not what the client claimed


def test_without_a_trusted_proxy_forwarded_for_is_ignored(client, owner, settings):
    settings.SKIFF_TRUSTED_PROXIES = 0
    client.force_login(owner.user)
    client.post("/team/tokens/", {"name": "x"}, HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert AuditEvent.objects.get(action="token.create").source_ip == "127.0.0.1"


def test_only_owners_and_admins_see_the_audit_log(client, owner, events):
    viewer = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    client.force_login(viewer.user)
    assert client.get("/team/audit/").status_code == 403
    assert client.get("/team/audit/export.csv").status_code == 403


def test_the_suite_fails_a_mutating_api_call_that_records_no_event(owner, monkeypatch):
    """tests/plugins/audit.py holds every mutating API call of the suite to one audit event."""
    from console.api import team_views
    from tests.plugins.audit import AuditTrailError

    token, raw = api_token_create(user=owner.user, team=owner.team, name="quiet")

    def revoke_silently(*, token):
        type(token).objects.filter(pk=token.pk).update(revoked_at=token.created_at)

    monkeypatch.setattr(team_views, "api_token_revoke", revoke_silently)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    with pytest.raises(AuditTrailError, match="recorded 0 audit events"):
        api.delete(f"/api/v1/tokens/{token.pk}/")
