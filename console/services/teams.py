"""Team, membership and API-token services: the only writers of these models."""

from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from console.audit import audit_record
from console.errors import ValidationFailed
from console.models import ApiToken, Membership, Role, Team, User, hash_token


@transaction.atomic
def user_create(*, email: str, password: str, name: str = "", validate: bool = True) -> User:
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email=email).exists():
        raise ValidationFailed({"email": f"A user with email {email} already exists."})
    user = User(email=email, name=name)
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def team_create(*, name: str, slug: str, owner: User) -> Team:
    slug = slug.strip().lower()
    if Team.objects.filter(slug=slug).exists():
        raise ValidationFailed({"slug": f"The team slug '{slug}' is taken."})
    team = Team(name=name or slug, slug=slug)
    team.full_clean()
    team.save()
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    audit_record(team=team, action="team.create", target=team, after={"owner": owner.email})
    return team


@transaction.atomic
def api_token_create(
    *, user: User, team: Team, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for `user` acting in `team`; returns the row and the raw token."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed({"name": "Give the token a name of 1–100 characters."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": "The expiry must be in the future."})
    if not Membership.objects.filter(user=user, team=team).exists():
        raise ValidationFailed("Tokens can only be created for a team the user belongs to.")
    raw = ApiToken.generate_raw()
    token = ApiToken.objects.create(
        user=user,
        team=team,
        name=name,
        key_hash=hash_token(raw),
        key_hint=raw[:8],
        expires_at=expires_at,
    )
    audit_record(
        team=team,
        action="token.create",
        target=token,
        after={"name": name, "user": user.email, "expires_at": str(expires_at or "")},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token; the next request that uses it gets 401."""
    locked = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if locked.revoked_at is not None:
        raise ValidationFailed("This token is already revoked.")
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    audit_record(
        team=locked.team,
        action="token.revoke",
        target=locked,
        before={"name": locked.name, "user": locked.user.email},
    )
    return locked
