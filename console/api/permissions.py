from rest_framework import permissions

from console.access import TeamContext, membership_for
from console.models import ApiToken
from console.permissions import Action


def api_team_context(request) -> TeamContext | None:
    """The team an API request acts for: the token's team, else the session's current team."""
    cached = getattr(request, "_skiff_team_context", None)
    if cached is not None:
        return cached
    if isinstance(request.auth, ApiToken):
        membership = membership_for(request.user, request.auth.team_id)
        if membership is None or membership.team_id != request.auth.team_id:
            return None  # the user has left the token's team: the token no longer acts
    else:
        context = getattr(request._request, "team_context", None)
        membership = context.membership if context else None
    if membership is None:
        return None
    context = TeamContext(team=membership.team, membership=membership)
    request._skiff_team_context = context
    return context


class TeamActionPermission(permissions.BasePermission):
    """Checks the view's `required_actions[method]` (or `required_action`) against the role."""

    message = "Your role in this team does not allow this."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        context = api_team_context(request)
        if context is None:
            self.message = "You are not a member of any team."
            return False
        action = getattr(view, "required_actions", {}).get(
            request.method, getattr(view, "required_action", Action.CLUSTER_VIEW)
        )
        return context.allows(action)


class IsPlatformStaff(permissions.BasePermission):
    """Platform endpoints (the finance export): the caller's user is staff (`User.is_staff`).

    Staff authenticate like anyone else: a browser session, or an API token they created in a
    team they belong to. The token's team does not matter here; its user's staff flag does.
    """

    message = "This endpoint is for platform staff."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
