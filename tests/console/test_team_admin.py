"""Members, invitations and API tokens: the rules a team admin relies on."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import ApiToken, AuditEvent, Invitation, Membership, Role, User, hash_token
from console.services.invitations import invitation_create
from console.services.teams import api_token_create
from tests.factories import DEFAULT_PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def token_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def signed_in(client, membership):
    client.force_login(membership.user)
    return client


# --- members ---------------------------------------------------------------------------------


def test_members_page_lists_role_and_last_login(client):
    owner = MembershipFactory(role=Role.OWNER)
    dev = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    dev.user.last_login = timezone.now().replace(year=2026, month=3, day=4, hour=5, minute=6)
    dev.user.save()
    newcomer = MembershipFactory(team=owner.team, role=Role.VIEWER)
    page = signed_in(client, owner).get("/team/members/").content.decode()
    assert dev.user.email in page and "2026-03-04 05:06 UTC" in page
    assert newcomer.user.email in page and "never" in page


def test_last_owner_can_be_neither_demoted_nor_removed_nor_leave(client):
    owner = MembershipFactory(role=Role.OWNER)
    signed_in(client, owner)
    response = client.post(f"/team/members/{owner.pk}/role/", {"role": "admin"}, follow=True)
    assert b"the team&#x27;s last owner" in response.content
    response = client.post("/team/leave/", follow=True)
    assert b"last owner" in response.content
    owner.refresh_from_db()
    assert owner.role == Role.OWNER

    _, raw = api_token_create(user=owner.user, team=owner.team, name="t")
    api = token_client(raw)
    response = api.patch(f"/api/v1/team/members/{owner.pk}/", {"role": "viewer"}, format="json")
    assert response.status_code == 400 and "last owner" in str(response.json())
    assert api.delete(f"/api/v1/team/members/{owner.pk}/").status_code == 400
    assert Membership.objects.filter(pk=owner.pk, role=Role.OWNER).exists()


def test_an_admin_cannot_touch_the_owner_role(client):
    owner = MembershipFactory(role=Role.OWNER)
    admin = MembershipFactory(team=owner.team, role=Role.ADMIN)
    dev = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    signed_in(client, admin)
    assert client.post(f"/team/members/{dev.pk}/role/", {"role": "owner"}).status_code == 403
    assert client.post(f"/team/members/{owner.pk}/role/", {"role": "viewer"}).status_code == 403
    assert client.post(f"/team/members/{owner.pk}/remove/").status_code == 403
    assert client.post(f"/team/members/{dev.pk}/role/", {"role": "billing"}).status_code == 302
    dev.refresh_from_db()
    assert dev.role == Role.BILLING


def test_owner_transfers_ownership_and_becomes_admin(client):
    owner = MembershipFactory(role=Role.OWNER)
    dev = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    response = signed_in(client, owner).post(
        f"/team/members/{dev.pk}/transfer-ownership/", follow=True
    )
    assert b"is now an owner; you are an admin" in response.content
    owner.refresh_from_db(), dev.refresh_from_db()
    assert (owner.role, dev.role) == (Role.ADMIN, Role.OWNER)
    event = AuditEvent.objects.get(action="team.transfer_ownership")
    assert event.before["owner"] == owner.user.email and event.after["owner"] == dev.user.email


def test_removing_a_member_revokes_their_tokens_at_once(client):
    owner = MembershipFactory(role=Role.OWNER)
    dev = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    _, raw = api_token_create(user=dev.user, team=dev.team, name="laptop")
    assert token_client(raw).get("/api/v1/team/").status_code == 200
    signed_in(client, owner).post(f"/team/members/{dev.pk}/remove/")
    assert not Membership.objects.filter(pk=dev.pk).exists()
    assert token_client(raw).get("/api/v1/team/").status_code == 401
    event = AuditEvent.objects.get(action="member.remove")
    assert event.after == {"revoked_tokens": ["laptop"]} and event.actor_user == owner.user


def test_a_member_may_leave_when_another_owner_remains(client):
    owner = MembershipFactory(role=Role.OWNER)
    viewer = MembershipFactory(team=owner.team, role=Role.VIEWER)
    response = signed_in(client, viewer).post("/team/leave/", follow=True)
    assert b"not a member of any team" in response.content
    assert AuditEvent.objects.filter(action="member.leave", target_id=str(viewer.pk)).exists()


# --- invitations --------------------------------------------------------------------------------


def invite(client, owner, email="new@example.com", role="developer"):
    return signed_in(client, owner).post("/team/invitations/", {"email": email, "role": role})


def link_path(response) -> str:
    link = response.context["created"].link
    return link[link.index("/invite/") :]


def test_invitation_is_emailed_and_shown_once_to_the_inviter(
    client, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(role=Role.OWNER, team__name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client, owner)
    assert response.status_code == 201
    link = response.context["created"].link
    assert link.startswith("http://testserver/invite/inv_")
    assert link in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    assert link in mail.outbox[0].body and "Acme" in mail.outbox[0].subject
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hash_token(link.rsplit("/", 2)[-2])
    assert link not in str(list(Invitation.objects.values()))
    pending = client.get("/team/invitations/").content.decode()
    assert "new@example.com" in pending and link not in pending


def test_new_user_accepts_with_a_password_and_lands_in_the_team(client):
    owner = MembershipFactory(role=Role.OWNER, team__name="Acme")
    path = link_path(invite(client, owner, role="billing"))
    client.logout()
    page = client.get(path)
    assert b"You are invited as <strong>Billing</strong>" in page.content
    weak = client.post(path, {"password1": "123", "password2": "123"})
    assert weak.status_code == 400 and b"too short" in weak.content
    response = client.post(
        path, {"name": "Nina", "password1": "Ocean-Kite-42x", "password2": "Ocean-Kite-42x"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/", follow=True).content.decode()
    assert "Welcome to the team Acme: you are Billing." in home
    user = User.objects.get(email="new@example.com")
    assert user.check_password("Ocean-Kite-42x") and user.name == "Nina"
    assert Membership.objects.get(user=user).role == Role.BILLING
    event = AuditEvent.objects.get(action="invitation.accept")
    assert event.actor_user == user and event.after["new_user"] is True


def test_a_used_link_is_refused(client):
    owner = MembershipFactory(role=Role.OWNER)
    path = link_path(invite(client, owner))
    client.logout()
    data = {"password1": "Ocean-Kite-42x", "password2": "Ocean-Kite-42x"}
    assert client.post(path, data).status_code == 302
    client.logout()
    again = client.get(path)
    assert again.status_code == 410 and b"already been used" in again.content
    assert client.post(path, data).status_code == 410


def test_an_expired_or_revoked_link_is_refused(client):
    owner = MembershipFactory(role=Role.OWNER)
    path = link_path(invite(client, owner, email="late@example.com"))
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.logout()
    response = client.get(path)
    assert response.status_code == 410 and b"expired on" in response.content

    path = link_path(invite(client, owner, email="revoked@example.com"))
    invitation = Invitation.objects.get(email="revoked@example.com")
    client.post(f"/team/invitations/{invitation.pk}/revoke/")
    client.logout()
    response = client.get(path)
    assert response.status_code == 410 and b"was revoked" in response.content
    assert client.get("/invite/inv_forged/").status_code == 404


def test_existing_user_signs_in_then_joins(client):
    owner = MembershipFactory(role=Role.OWNER, team__name="Acme")
    elsewhere = MembershipFactory(role=Role.OWNER, user__email="known@example.com")
    path = link_path(invite(client, owner, email="KNOWN@example.com", role="viewer"))
    client.logout()
    page = client.get(path).content.decode()
    assert "Sign in to accept" in page and f"next={path.replace('/', '%2F')}" in page
    response = client.post(
        "/login/", {"username": "known@example.com", "password": DEFAULT_PASSWORD, "next": path}
    )
    assert response["Location"] == path
    response = client.post(path, follow=True)
    assert b"Welcome to the team Acme: you are Viewer." in response.content
    assert Membership.objects.get(team=owner.team, user=elsewhere.user).role == Role.VIEWER


def test_a_signed_in_user_with_another_email_cannot_take_the_invitation(client):
    owner = MembershipFactory(role=Role.OWNER)
    path = link_path(invite(client, owner, email="meant-for@example.com"))
    stranger = MembershipFactory(role=Role.OWNER)
    signed_in(client, stranger)
    assert b"you are signed in as" in client.get(path).content
    assert client.post(path).status_code == 400
    assert not Membership.objects.filter(team=owner.team, user=stranger.user).exists()


def test_reinviting_replaces_the_pending_link_and_members_cannot_be_invited(client):
    owner = MembershipFactory(role=Role.OWNER)
    first = link_path(invite(client, owner))
    second = link_path(invite(client, owner, role="viewer"))
    assert client.get(first).status_code == 410 and client.get(second).status_code == 200
    response = invite(client, owner, email=owner.user.email)
    assert response.status_code == 400 and b"already a member" in response.content


def test_only_an_owner_may_invite_an_owner(client):
    owner = MembershipFactory(role=Role.OWNER)
    admin = MembershipFactory(team=owner.team, role=Role.ADMIN)
    page = signed_in(client, admin).get("/team/invitations/").content.decode()
    assert 'value="owner"' not in page
    _, raw = api_token_create(user=admin.user, team=admin.team, name="t")
    response = token_client(raw).post(
        "/api/v1/team/invitations/", {"email": "boss@example.com", "role": "owner"}, format="json"
    )
    assert response.status_code == 403


def test_invitation_api_returns_the_link_once_and_lists_pending(client):
    owner = MembershipFactory(role=Role.OWNER)
    _, raw = api_token_create(user=owner.user, team=owner.team, name="t")
    api = token_client(raw)
    created = api.post(
        "/api/v1/team/invitations/", {"email": "x@example.com", "role": "viewer"}, format="json"
    ).json()
    assert created["link"].startswith("http://testserver/invite/")
    assert created["status"] == "pending"
    listed = api.get("/api/v1/team/invitations/").json()["results"]
    assert [i["email"] for i in listed] == ["x@example.com"] and "link" not in listed[0]
    assert api.delete(f"/api/v1/team/invitations/{created['id']}/").status_code == 204
    assert api.get("/api/v1/team/invitations/").json()["results"] == []


def test_invitation_service_rejects_bad_input():
    owner = MembershipFactory(role=Role.OWNER)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="valid email"):
        invitation_create(team=owner.team, email="nope", role="viewer", by=owner, base_url="/")
    with pytest.raises(ValidationError, match="Unknown role"):
        invitation_create(team=owner.team, email="a@b.co", role="god", by=owner, base_url="/")


# --- API tokens ---------------------------------------------------------------------------------


def test_token_page_shows_the_token_once_and_stores_only_its_hash(client):
    dev = MembershipFactory(role=Role.DEVELOPER)
    response = signed_in(client, dev).post(
        "/team/tokens/", {"name": "ci", "expires_on": str(timezone.now().date() + timedelta(3))}
    )
    assert response.status_code == 201
    raw = response.context["raw_token"]
    assert raw in response.content.decode()
    token = ApiToken.objects.get()
    assert token.key_hash == hash_token(raw) and token.expires_at is not None
    assert raw not in client.get("/team/tokens/").content.decode()
    assert token_client(raw).get("/api/v1/team/").status_code == 200
    past = client.post("/team/tokens/", {"name": "old", "expires_on": "2020-01-01"})
    assert past.status_code == 400 and b"Choose a day after today." in past.content


def test_revoked_token_gets_401_at_once_through_the_api():
    dev = MembershipFactory(role=Role.DEVELOPER)
    _, admin_raw = api_token_create(user=dev.user, team=dev.team, name="admin")
    api = token_client(admin_raw)
    created = api.post("/api/v1/tokens/", {"name": "short-lived"}, format="json").json()
    assert token_client(created["token"]).get("/api/v1/clusters/").status_code == 200
    assert api.delete(f"/api/v1/tokens/{created['id']}/").status_code == 204
    response = token_client(created["token"]).get("/api/v1/clusters/")
    assert response.status_code == 401
    listed = {t["name"]: t for t in api.get("/api/v1/tokens/").json()["results"]}
    assert listed["short-lived"]["revoked"] is True and "token" not in listed["short-lived"]
    assert listed["admin"]["last_used_at"] is not None


def test_expired_token_gets_401_and_past_expiry_is_refused():
    dev = MembershipFactory(role=Role.DEVELOPER)
    _, raw = api_token_create(user=dev.user, team=dev.team, name="a")
    api = token_client(raw)
    response = api.post(
        "/api/v1/tokens/", {"name": "b", "expires_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400 and "future" in str(response.json())
    created = api.post(
        "/api/v1/tokens/",
        {"name": "c", "expires_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        format="json",
    ).json()
    ApiToken.objects.filter(pk=created["id"]).update(expires_at=timezone.now())
    assert token_client(created["token"]).get("/api/v1/team/").status_code == 401


def test_a_token_only_sees_its_team_tokens_members_and_audit():
    a = MembershipFactory(role=Role.OWNER, team__slug="tok-a")
    b = MembershipFactory(user=a.user, role=Role.OWNER, team__slug="tok-b")
    _, raw_a = api_token_create(user=a.user, team=a.team, name="for-a")
    token_b, _ = api_token_create(user=b.user, team=b.team, name="for-b")
    api = token_client(raw_a)
    assert [t["name"] for t in api.get("/api/v1/tokens/").json()["results"]] == ["for-a"]
    assert api.get(f"/api/v1/tokens/{token_b.pk}/").status_code == 404
    assert api.get(f"/api/v1/team/members/{b.pk}/").status_code == 404
    events = api.get("/api/v1/audit-events/").json()["results"]
    assert {e["object"] for e in events} == {"for-a (" + raw_a[:8] + "…)"}


def test_developers_see_only_their_own_tokens_admins_see_all(client):
    owner = MembershipFactory(role=Role.OWNER)
    dev = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    api_token_create(user=owner.user, team=owner.team, name="owner-token")
    dev_token, _ = api_token_create(user=dev.user, team=dev.team, name="dev-token")
    page = signed_in(client, dev).get("/team/tokens/").content.decode()
    assert "dev-token" in page and "owner-token" not in page
    page = signed_in(client, owner).get("/team/tokens/").content.decode()
    assert "dev-token" in page and "owner-token" in page
    assert client.post(f"/team/tokens/{dev_token.pk}/revoke/").status_code == 302
    dev_token.refresh_from_db()
    assert dev_token.revoked_at is not None
