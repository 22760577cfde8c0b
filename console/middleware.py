from console.access import team_context_from_session
from console.audit import SYSTEM, Actor, client_ip, set_actor


class CurrentTeamMiddleware:
    """Attach `request.team_context`: the session's current team and role (None when none)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.team_context = team_context_from_session(request)
        user = request.user if request.user.is_authenticated else None
        set_actor(Actor(user=user, ip=client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            set_actor(SYSTEM)
