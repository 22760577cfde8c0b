from console.access import team_context_from_session


class CurrentTeamMiddleware:
    """Attach `request.team_context`: the session's current team and role (None when none)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.team_context = team_context_from_session(request)
        return self.get_response(request)
