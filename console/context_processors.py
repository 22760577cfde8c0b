from console.models import Membership


def current_team(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = getattr(request, "team_context", None)
    return {
        "team_context": context,
        "current_team": context.team if context else None,
        "user_memberships": Membership.objects.select_related("team").filter(user=user),
    }
