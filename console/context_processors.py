from console.models import Membership
from console.permissions import Action


def current_team(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = getattr(request, "team_context", None)
    return {
        "team_context": context,
        # The left navigation shows Billing only to roles that may open it.
        "can_view_billing": bool(context and context.allows(Action.BILLING_VIEW)),
        # Cluster tabs show only what the role may open (a viewer has no Access or ACLs tab).
        "can_view_access": bool(context and context.allows(Action.ACCESS_VIEW)),
        "current_team": context.team if context else None,
        "user_memberships": Membership.objects.select_related("team").filter(user=user),
    }
