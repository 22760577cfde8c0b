"""Invitations: a single-use link, valid for a few days, that makes its holder a team member.

The link carries a random token; only its hash is stored. The invitation is bound to an email:
an existing account with that email signs in and accepts, a new one is created with it.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from console.audit import Actor, acting_as, audit_record, current_actor
from console.errors import ValidationFailed
from console.models import Invitation, Membership, Role, Team, User, hash_token
from console.permissions import Action, role_allows
from console.services.teams import user_create

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    link: str  # shown once to the inviter and emailed; not stored


def invitation_link(raw: str, *, base_url: str) -> str:
    return base_url.rstrip("/") + reverse("invitation_accept", kwargs={"token": raw})


@transaction.atomic
def invitation_create(
    *, team: Team, email: str, role: str, by: Membership, base_url: str
) -> CreatedInvitation:
    """Invite `email` to `team` with `role`; emails the link after commit.

    A new invitation to the same address replaces the pending ones (their links stop working).
    """
    email = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed({"email": "Enter a valid email address."}) from exc
    if role not in Role.values:
        choices = ", ".join(Role.values)
        raise ValidationFailed({"role": f"Unknown role '{role}'. Choose one of: {choices}."})
    if role == Role.OWNER and not role_allows(by.role, Action.TEAM_TRANSFER):
        raise PermissionDenied("Only an owner can invite another owner.")
    if Membership.objects.filter(team=team, user__email=email).exists():
        raise ValidationFailed({"email": f"{email} is already a member of this team."})

    replaced = Invitation.objects.pending().select_for_update().filter(team=team, email=email)
    replaced_ids = sorted(replaced.values_list("pk", flat=True))
    replaced.update(revoked_at=timezone.now())
    raw = Invitation.generate_raw()
    invitation = Invitation.objects.create(
        team=team,
        email=email,
        role=role,
        token_hash=hash_token(raw),
        invited_by=by.user,
        expires_at=timezone.now() + timedelta(days=settings.SKIFF_INVITATION_DAYS),
    )
    after: dict[str, str | list[int]] = {
        "email": email,
        "role": role,
        "expires_at": invitation.expires_at.isoformat(),
    }
    if replaced_ids:
        after["replaces"] = replaced_ids
    audit_record(team=team, action="invitation.create", target=invitation, after=after)
    link = invitation_link(raw, base_url=base_url)
    transaction.on_commit(lambda: _send_invitation_email(invitation, link))
    return CreatedInvitation(invitation, link)


def _send_invitation_email(invitation: Invitation, link: str) -> None:
    inviter = invitation.invited_by.email if invitation.invited_by else "A team admin"
    days = settings.SKIFF_INVITATION_DAYS
    try:
        send_mail(
            subject=f"You are invited to the Skiff team {invitation.team.name}",
            message=(
                f"{inviter} invited you to the team {invitation.team.name} on Skiff as "
                f"{invitation.get_role_display()}.\n\n"
                f"Open this link to accept (it works once and expires in {days} days):\n"
                f"{link}\n"
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception:  # the inviter has the link on screen; a mail outage must not fail the page
        logger.exception("Could not email the invitation %s to %s", invitation.pk, invitation.email)


def invitation_from_link(raw: str) -> Invitation:
    """The invitation a link token stands for; raises Invitation.DoesNotExist if none."""
    return Invitation.objects.select_related("team").get(token_hash=hash_token(raw))


def invitation_check_usable(invitation: Invitation) -> None:
    """Raise a ValidationError a person can act on if the link no longer works."""
    status = invitation.status
    if status == "accepted":
        raise ValidationFailed(
            "This invitation link has already been used. Sign in, or ask a team admin for a "
            "new invitation."
        )
    if status == "revoked":
        raise ValidationFailed("This invitation was revoked. Ask a team admin for a new one.")
    if status == "expired":
        raise ValidationFailed(
            f"This invitation expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Ask a team admin for a new one."
        )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User, new_user: bool = False) -> Membership:
    """Make `user` a member with the invitation's role; the link stops working."""
    locked = Invitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
    invitation_check_usable(locked)
    if user.email.lower() != locked.email:
        raise ValidationFailed(
            f"This invitation is for {locked.email}, and you are signed in as {user.email}. "
            "Sign out, then open the link again."
        )
    if Membership.objects.filter(team=locked.team, user=user).exists():
        raise ValidationFailed(f"You are already a member of the team {locked.team.name}.")
    membership = Membership.objects.create(team=locked.team, user=user, role=locked.role)
    locked.accepted_at = timezone.now()
    locked.accepted_by = user
    locked.save(update_fields=["accepted_at", "accepted_by"])
    with acting_as(Actor(user=user, ip=current_actor().ip)):
        audit_record(
            team=locked.team,
            action="invitation.accept",
            target=membership,
            target_repr=user.email,
            after={"role": locked.role, "invitation": locked.pk, "new_user": new_user},
        )
    return membership


@transaction.atomic
def invitation_accept_new_user(*, invitation: Invitation, password: str, name: str = "") -> User:
    """Create the invited person's account with `password` and accept the invitation."""
    invitation_check_usable(invitation)
    if User.objects.filter(email=invitation.email).exists():
        raise ValidationFailed(
            f"An account for {invitation.email} already exists: sign in to accept the invitation."
        )
    user = user_create(email=invitation.email, password=password, name=name)
    invitation_accept(invitation=invitation, user=user, new_user=True)
    return user


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.status != "pending":
        raise ValidationFailed(
            f"Only a pending invitation can be revoked (this one is {locked.status})."
        )
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    audit_record(
        team=locked.team,
        action="invitation.revoke",
        target=locked,
        before={"email": locked.email, "role": locked.role},
    )
    return locked
