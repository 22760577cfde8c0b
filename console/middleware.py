import time
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme

from console.access import team_context_from_session
from console.audit import SYSTEM, Actor, client_ip, set_actor
from console.errors import ApplicationError, log_application_error
from console.services.mfa import mfa_confirmed_device, mfa_required_for, mfa_session_verified


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


class ApplicationErrorMiddleware:
    """The pages' one error handler: an `ApplicationError` a view lets through becomes

    * for an htmx request, a page message and ``HX-Redirect`` to the page the user is on (htmx
      follows it whatever the status, which stays the error's own);
    * for a form post, a page message and a redirect back (``next``, else the referring page
      of this site, else home);
    * otherwise, the styled error page ``errors/error.html``: the status, the message and a
      link home.

    A Django ``ValidationError`` is a ``ValidationFailed`` (400). Views that show an error
    beside their form catch it themselves and use ``message``, ``form_errors()`` and ``status``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (ApplicationError, DjangoValidationError)):
            return None
        error = ApplicationError.wrap(exception)
        log_application_error(error, where=f"{request.method} {request.path}")
        htmx = getattr(request, "htmx", None)
        if htmx:
            messages.error(request, error.message)
            response = HttpResponse(error.message, status=error.status, content_type="text/plain")
            response["HX-Redirect"] = _back(request, htmx.current_url)
            return response
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            messages.error(request, error.message)
            return redirect(_back(request, request.POST.get("next") or _referer(request)))
        context = {"error": error, "status": error.status, "title": _TITLES.get(error.status)}
        return render(request, "errors/error.html", context, status=error.status)


_TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    409: "That conflicts with what is there",
    502: "The Kafka cell refused the request",
    503: "Temporarily unavailable",
    504: "No answer in time",
}


def _referer(request: HttpRequest) -> str | None:
    return request.headers.get("Referer")


def _back(request: HttpRequest, url: str | None) -> str:
    """`url` if it is a page of this site, else home."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("home")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every page and API answer (static files are served above
    it, by WhiteNoise, and keep their caching). Many carry a secret shown once (a new key's
    password, an API token, a cluster's connection credentials), and every one carries a team's
    data: neither the browser's cache nor a proxy may keep them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response


SESSION_STARTED_KEY = "skiff_signed_in_at"
SESSION_SEEN_KEY = "skiff_seen_at"
# The last-seen time is written at most this often (seconds): not a session write per request.
SEEN_RESOLUTION = 60


def session_mark_signed_in(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver (console/apps.py): the absolute lifetime starts now."""
    now = int(time.time())
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_SEEN_KEY] = now


class SessionLifetimeMiddleware:
    """Sign a session out after ``SKIFF_SESSION_IDLE_MINUTES`` without a request, or
    ``SKIFF_SESSION_MAX_HOURS`` after sign-in, whichever comes first. The request then goes on
    as anonymous: a page redirects to the sign-in page, the API answers 401/403.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session and request.user.is_authenticated:
            now = int(time.time())
            started = session.get(SESSION_STARTED_KEY)
            seen = session.get(SESSION_SEEN_KEY, started)
            if started is None or seen is None:
                session[SESSION_STARTED_KEY] = session[SESSION_SEEN_KEY] = now
            elif (
                now - started > settings.SKIFF_SESSION_MAX_HOURS * 3600
                or now - seen > settings.SKIFF_SESSION_IDLE_MINUTES * 60
            ):
                logout(request)
                messages.info(request, "Your session has ended. Sign in again to go on.")
            elif now - seen >= SEEN_RESOLUTION:
                session[SESSION_SEEN_KEY] = now
        return self.get_response(request)


class StaffMFAMiddleware:
    """Platform staff pass a second factor before anything else of the console.

    For a signed-in staff user who must use one (``mfa_required_for``: always when
    ``SKIFF_REQUIRE_STAFF_MFA`` is on, else once they enrolled) and whose session has not
    verified a code yet: a page redirects to the verification page (or to enrolment, with no
    authenticator yet), and a session-authenticated API call answers 403 ``mfa_required``.
    Only those two pages and signing out stay open. Requests with an API token
    (``Authorization: Token …``) are left to the token: a token is its own credential, made on
    the tokens page, which itself sits behind this check (docs/security.md).
    """

    API_PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
            and request.path_info not in self._open_paths()
            and not request.headers.get("Authorization", "").startswith("Token ")
            and mfa_required_for(user=user)
        ):
            return self._refuse(request)
        return self.get_response(request)

    @staticmethod
    def _open_paths() -> set[str]:
        return {reverse("mfa_setup"), reverse("mfa_verify"), reverse("logout")}

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.API_PREFIX):
            body = {
                "detail": "Platform staff must verify a second factor: sign in to the console "
                "and enter the code from your authenticator app, or use an API token.",
                "code": "mfa_required",
            }
            return JsonResponse(body, status=403)
        enrolled = mfa_confirmed_device(user=request.user) is not None
        target = reverse("mfa_verify" if enrolled else "mfa_setup")
        next_url = request.get_full_path() if request.method == "GET" else reverse("home")
        url = f"{target}?{urlencode({'next': next_url})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)


class StaffMFAWebSocketMiddleware(BaseMiddleware):
    """The socket side of ``StaffMFAMiddleware``: a staff session that must pass a second factor
    and has not opens sockets as nobody, so every consumer refuses the handshake as it does an
    anonymous one. Sits inside Channels' AuthMiddlewareStack (console/asgi.py), which put the
    session's user and the session in the scope.
    """

    async def __call__(self, scope, receive, send):
        if await database_sync_to_async(self._second_factor_missing)(scope):
            scope = dict(scope, user=AnonymousUser())
        return await super().__call__(scope, receive, send)

    @staticmethod
    def _second_factor_missing(scope) -> bool:
        user = scope.get("user")
        if user is None or not user.is_authenticated or not mfa_required_for(user=user):
            return False
        return not mfa_session_verified(user=user, session=scope["session"])
