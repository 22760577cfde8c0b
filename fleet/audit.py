"""The audit log for fleet changes (admission, registration, operations), without importing it.

The fleet app imports none of console's team modules (an import contract says so), yet its
changes belong in the platform's audit log. The clusters app, which may import both, registers
the recorder when Django starts (`ClustersConfig.ready`); fleet code calls `fleet_audit(...)`.
Actor and source address come from the request context, as for every other audit event.
"""

from __future__ import annotations

from typing import Any, Protocol


class AuditRecorder(Protocol):
    def __call__(
        self,
        *,
        action: str,
        target: Any = None,
        before: dict | None = None,
        after: dict | None = None,
    ) -> None: ...


_recorder: AuditRecorder | None = None


def register_audit_recorder(recorder: AuditRecorder) -> None:
    global _recorder
    _recorder = recorder


def fleet_audit(
    *, action: str, target: Any = None, before: dict | None = None, after: dict | None = None
) -> None:
    """Record one platform event (no team) in the audit log; call it inside the transaction."""
    if _recorder is None:
        raise RuntimeError("No audit recorder is registered (is the clusters app installed?)")
    _recorder(action=action, target=target, before=before, after=after)
