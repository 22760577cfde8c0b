from django.conf import settings

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


class ContentSecurityPolicyMiddleware:
    """Send `settings.SKIFF_CSP` as the Content-Security-Policy of every response.

    Every script and stylesheet is a same-origin static file (vendored htmx, Tabler, uPlot),
    and no template has inline scripts, styles or event handlers, so the policy needs no
    nonce or 'unsafe-inline'. A view may set its own header (it is kept).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = "; ".join(
            f"{directive} {' '.join(sources)}".strip()
            for directive, sources in settings.SKIFF_CSP.items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
