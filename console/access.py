"""Team scoping in one place: which team a request acts for, and with which role.

Pages use the session's current team (switchable); API calls with a token act for the token's
team; WebSocket consumers use the session like pages. Everything else asks `role_allows`.
"""

from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import redirect

from console.models import Membership, Team
from console.permissions import Action, role_allows

SESSION_TEAM_KEY = "skiff_team_id"

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class TeamContext:
    team: Team
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    def allows(self, action: Action) -> bool:
        return role_allows(self.role, action)


def membership_for(user, team_id: int | None) -> Membership | None:
    """The user's membership in `team_id`, or their first team when no id is given."""
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("team").filter(user=user)
    if team_id is not None:
        membership = memberships.filter(team_id=team_id).first()
        if membership is not None:
            return membership
    return memberships.order_by("team__slug").first()


def team_context_from_session(request: HttpRequest) -> TeamContext | None:
    membership = membership_for(request.user, request.session.get(SESSION_TEAM_KEY))
    if membership is None:
        return None
    return TeamContext(team=membership.team, membership=membership)


def scope_to_team(queryset: QuerySet[M], team: Team, field: str = "team") -> QuerySet[M]:
    """Restrict a queryset to one team's rows. Views may add filters, never widen this."""
    return queryset.filter(**{field: team})


def get_team_object_or_404(queryset: QuerySet[M], team: Team, field: str = "team", **lookup) -> M:
    """Fetch one object of the team; another team's object is a 404, never a 403."""
    try:
        return scope_to_team(queryset, team, field).get(**lookup)
    except ObjectDoesNotExist as exc:  # .get() raises only queryset.model.DoesNotExist
        raise Http404("No such object in this team.") from exc


class TeamViewMixin(LoginRequiredMixin):
    """Base for team pages: requires login, a current team and the view's `required_action`."""

    required_action: Action = Action.CLUSTER_VIEW

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        context = request.team_context
        if context is None:
            return redirect("no_team")
        if not context.allows(self.required_action):
            raise PermissionDenied("Your role in this team does not allow this.")
        self.team = context.team
        self.membership = context.membership
        return super().dispatch(request, *args, **kwargs)


class PlatformStaffViewMixin(LoginRequiredMixin):
    """Base for platform pages (finance export, price book): `User.is_staff`, no team needed.

    Staff is not a team role: these pages show no team's objects beyond what finance needs,
    and team roles (even owner) do not open them.
    """

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_staff:
            raise PermissionDenied("This page is for platform staff.")
        return super().dispatch(request, *args, **kwargs)
