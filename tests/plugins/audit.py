"""Every mutating API call the suite makes leaves exactly one audit event, by its caller.

In the test process, DRF's ``APIView.dispatch`` is wrapped: a POST, PUT, PATCH or DELETE under
``/api/`` that succeeds (2xx) must write exactly one ``AuditEvent`` while it runs, whose actor is
the request's user and, for token calls, the request's token. Otherwise the call raises, and
the test that made it fails with what was recorded. (Which *object* each route's event names is
checked route by route in tests/console/test_permission_matrix.py.)
"""

from __future__ import annotations

import pytest

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditTrailError(AssertionError):
    pass


def _checked_dispatch(original):
    def dispatch(self, request, *args, **kwargs):
        if request.method not in MUTATING or not request.path.startswith("/api/"):
            return original(self, request, *args, **kwargs)
        if request.GET.get("dry_run") in {"1", "true"}:  # e.g. a policy preview: changes nothing
            return original(self, request, *args, **kwargs)
        from console.models import AuditEvent

        last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = original(self, request, *args, **kwargs)
        if not 200 <= response.status_code < 300:
            return response
        events = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id"))
        where = f"{request.method} {request.path} -> {response.status_code}"
        if len(events) != 1:
            raise AuditTrailError(
                f"{where} recorded {len(events)} audit events, not 1: "
                f"{[e.action for e in events]} (call audit_record once in its service)"
            )
        event, user = events[0], getattr(self.request, "user", None)
        token = getattr(self.request, "auth", None)
        token_id = getattr(token, "pk", None) if token.__class__.__name__ == "ApiToken" else None
        if event.actor_user_id != getattr(user, "pk", None) or event.actor_token_id != token_id:
            raise AuditTrailError(
                f"{where}: audit event {event.action} names actor {event.actor_repr!r}, "
                f"not the caller {user} (token {token_id})"
            )
        return response

    dispatch.__wrapped__ = original
    return dispatch


@pytest.fixture(autouse=True)
def _every_mutating_api_call_is_audited(monkeypatch):
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "dispatch", _checked_dispatch(APIView.dispatch))
