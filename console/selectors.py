"""Read-side queries of the console app, always scoped to one team."""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from console.access import TeamContext
from console.models import ApiToken, AuditEvent, Invitation, Membership, Team, User
from console.permissions import Action


def member_list(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__email")


def invitation_pending_list(*, team: Team) -> QuerySet[Invitation]:
    return Invitation.objects.pending().filter(team=team).select_related("invited_by")


def api_token_list(*, context: TeamContext, user: User) -> QuerySet[ApiToken]:
    """The team's tokens a caller sees: their own, or every member's for those who manage
    members (owners, admins)."""
    tokens = ApiToken.objects.filter(team=context.team).select_related("user")
    return tokens if context.allows(Action.MEMBER_MANAGE) else tokens.filter(user=user)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def audit_event_list(
    *,
    team: Team,
    actor: str = "",
    action: str = "",
    target: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """The team's audit events, newest first, filtered as the audit page and API allow.

    `action` matches exactly, or as a prefix when it ends with "." ("member." → all member
    actions); `since`/`until` are whole UTC days, both included: `[since 00:00, until+1 00:00)`.
    """
    events = AuditEvent.objects.filter(team=team)
    if actor:
        events = events.filter(actor_repr__icontains=actor)
    if action:
        events = (
            events.filter(action__startswith=action)
            if action.endswith(".")
            else events.filter(action=action)
        )
    if target:
        events = events.filter(
            Q(target_repr__icontains=target) | Q(target_id=target) | Q(target_type=target)
        )
    if since:
        events = events.filter(occurred_at__gte=_day_start(since))
    if until:
        events = events.filter(occurred_at__lt=_day_start(until + timedelta(days=1)))
    return events.order_by("-occurred_at", "-id")


def audit_action_names(*, team: Team) -> list[str]:
    """Distinct actions recorded for the team (suggestions for the filter)."""
    events = AuditEvent.objects.filter(team=team).order_by("action")
    return list(events.values_list("action", flat=True).distinct())
