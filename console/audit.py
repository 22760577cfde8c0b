"""The audit trail: services call `audit_record`; who acted comes from the request context.

Middleware (sessions) and the API token authentication set the current actor in a context
variable, so service functions need no `actor` parameter and tasks/commands record themselves
as "system" unless they set an actor with `acting_as`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from console.models import ApiToken, AuditEvent, Team, User


@dataclass(frozen=True)
class Actor:
    user: User | None = None
    token: ApiToken | None = None
    ip: str | None = None

    def __str__(self) -> str:
        if self.token is not None:
            return f"{self.token.user.email} (token {self.token.name})"
        if self.user is not None:
            return self.user.email
        return "system"


SYSTEM = Actor()
_current_actor: ContextVar[Actor] = ContextVar("skiff_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current_actor.get()


def set_actor(actor: Actor) -> None:
    _current_actor.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _current_actor.set(actor)
    try:
        yield
    finally:
        _current_actor.reset(token)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or what the trusted proxies put in X-Forwarded-For.

    Each proxy appends the address it got the request from, so with N trusted proxies the
    client is the N-th entry from the right; entries left of it are whatever the client sent.
    """
    trusted = settings.SKIFF_TRUSTED_PROXIES
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if trusted > 0 and forwarded:
        return forwarded[-min(trusted, len(forwarded))]
    return request.META.get("REMOTE_ADDR") or None


def login_username(request, credentials: dict | None) -> str | None:
    """The email a login attempt is for, as django-axes counts failures (case-insensitive)."""
    if credentials:
        username = credentials.get("username") or credentials.get("email")
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        username = data.get("username")
    return username.strip().lower() if isinstance(username, str) else username


def audit_record(
    *,
    team: Team | None,
    action: str,
    target: Any = None,
    target_type: str = "",
    target_id: str | int = "",
    target_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Record one audit event for a change. Call it inside the service's transaction."""
    actor = current_actor()
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or target.pk
        target_repr = target_repr or str(target)
    return AuditEvent.objects.create(
        team=team,
        actor_user=actor.user if actor.user and actor.user.pk else None,
        actor_token=actor.token,
        actor_repr=str(actor)[:255],
        source_ip=actor.ip,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_repr=str(target_repr)[:255],
        before=before,
        after=after,
    )
