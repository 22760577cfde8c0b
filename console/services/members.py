"""Membership services: change a role, remove a member, leave, transfer ownership.

The view or API checks the caller's role against the permission table first (MEMBER_MANAGE,
TEAM_TRANSFER); these functions add what depends on the data: only an owner may grant or take
away the owner role, and a team always keeps at least one owner.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from console.audit import audit_record
from console.errors import ValidationFailed
from console.models import ApiToken, Membership, Role, Team
from console.permissions import Action, role_allows

LAST_OWNER_MESSAGE = (
    "{email} is the team's last owner. Make another member owner first "
    "(Transfer ownership), then try again."
)


def _lock_owners(team: Team) -> list[Membership]:
    """Lock the team's owner rows so two concurrent demotions cannot leave it without one."""
    return list(Membership.objects.select_for_update().filter(team=team, role=Role.OWNER))


def _check_not_last_owner(membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    owners = _lock_owners(membership.team)
    if len(owners) <= 1:
        raise ValidationFailed(LAST_OWNER_MESSAGE.format(email=membership.user.email))


def _check_owner_change(by: Membership, *roles: str) -> None:
    if Role.OWNER in roles and not role_allows(by.role, Action.TEAM_TRANSFER):
        raise PermissionDenied("Only an owner can grant or take away the owner role.")


def _membership_summary(membership: Membership) -> dict:
    return {"email": membership.user.email, "role": membership.role}


@transaction.atomic
def member_role_change(*, membership: Membership, role: str, by: Membership) -> Membership:
    """Give a member another role in their team."""
    if role not in Role.values:
        choices = ", ".join(Role.values)
        raise ValidationFailed({"role": f"Unknown role '{role}'. Choose one of: {choices}."})
    locked = (
        Membership.objects.select_for_update().select_related("user", "team").get(pk=membership.pk)
    )
    if locked.role == role:
        return locked
    _check_owner_change(by, locked.role, role)
    _check_not_last_owner(locked)
    before = _membership_summary(locked)
    locked.role = role
    locked.save(update_fields=["role"])
    audit_record(
        team=locked.team,
        action="member.role_change",
        target=locked,
        target_repr=locked.user.email,
        before=before,
        after=_membership_summary(locked),
    )
    return locked


@transaction.atomic
def member_remove(*, membership: Membership, by: Membership) -> None:
    """Remove a member (or, when `by` is the membership itself, leave the team).

    Their API tokens for this team are revoked with the membership.
    """
    locked = (
        Membership.objects.select_for_update().select_related("user", "team").get(pk=membership.pk)
    )
    leaving = locked.pk == by.pk
    if not leaving:
        _check_owner_change(by, locked.role)
    _check_not_last_owner(locked)
    revoked = ApiToken.objects.usable().filter(user=locked.user, team=locked.team)
    revoked_names = sorted(revoked.values_list("name", flat=True))
    revoked.update(revoked_at=timezone.now())
    audit_record(
        team=locked.team,
        action="member.leave" if leaving else "member.remove",
        target=locked,
        target_repr=locked.user.email,
        before=_membership_summary(locked),
        after={"revoked_tokens": revoked_names} if revoked_names else None,
    )
    locked.delete()


@transaction.atomic
def team_ownership_transfer(*, team: Team, by: Membership, to: Membership) -> Membership:
    """Make `to` an owner and the transferring owner an admin."""
    if not role_allows(by.role, Action.TEAM_TRANSFER):
        raise PermissionDenied("Only an owner can transfer ownership.")
    if to.team_id != team.pk:
        raise ValidationFailed("That member is not in this team.")
    if to.pk == by.pk:
        raise ValidationFailed("You are already an owner of this team.")
    _lock_owners(team)
    new_owner = Membership.objects.select_for_update().select_related("user").get(pk=to.pk)
    old_owner = Membership.objects.select_for_update().select_related("user").get(pk=by.pk)
    before = {"owner": old_owner.user.email, "new_owner_role": new_owner.role}
    new_owner.role = Role.OWNER
    new_owner.save(update_fields=["role"])
    old_owner.role = Role.ADMIN
    old_owner.save(update_fields=["role"])
    audit_record(
        team=team,
        action="team.transfer_ownership",
        target=team,
        before=before,
        after={"owner": new_owner.user.email, "previous_owner_role": old_owner.role},
    )
    return new_owner
