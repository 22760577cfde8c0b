"""The one error family: every error a user can meet derives from `ApplicationError`.

An application error carries a sentence a user can act on (`message`), a stable machine-readable
`code` ("topic_exists", "cell_timeout"), the HTTP `status` it answers with, and optionally
field errors (`fields`: field name → messages). `detail` is for logs only (a client library's
own text, a broker's error name) and is never shown.

One API handler (`console.api.exceptions`) renders it as `{"detail", "code", **fields}`, and one
page handler (`console.middleware.ApplicationErrorMiddleware`) as a page message or a styled
error page. Services raise these (or a subclass from their own app: the gateway's errors,
`ProvisioningError`, `PolicyInvalid`, `BillingError`…); views and API views let them through or
show `message` beside a form.

This module is a leaf: it imports Django only, never one of the apps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404

FieldErrors = dict[str, list[str]]

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """Base class. Subclasses set `status`, `code` and `default_message` as class attributes."""

    status: int = 400
    code: str = "error"
    default_message: str = "The request could not be done."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: Mapping[str, str | Iterable[str]] | None = None,
        detail: str | None = None,
    ) -> None:
        self.message = str(message) if message else self.default_message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields: FieldErrors = _field_errors(fields)
        self.detail = detail
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def messages(self) -> list[str]:
        """Every message: the field errors' in order, else the one message."""
        return [m for ms in self.fields.values() for m in ms] or [self.message]

    def api_body(self) -> dict[str, Any]:
        """The API's error body (documented once in the OpenAPI schema as `ErrorResponse`)."""
        return {"detail": self.message, "code": self.code, **self.fields}

    def form_errors(self, non_field: str = "form") -> FieldErrors:
        """Field → messages for a form template; errors of no field go under `non_field`."""
        if not self.fields:
            return {non_field: self.messages}
        return {
            (non_field if name == NON_FIELD_ERRORS else name): list(ms)
            for name, ms in self.fields.items()
        }

    def add_to_form(self, form: Any) -> None:
        """Show the error on a Django form: on the fields it names, else on the form."""
        if not self.fields:
            form.add_error(None, self.messages)
            return
        for name, ms in self.fields.items():
            form.add_error(name if name in form.fields else None, ms)

    @classmethod
    def wrap(cls, exc: BaseException) -> ApplicationError:
        """`exc` as an application error (a Django ValidationError becomes ValidationFailed)."""
        if isinstance(exc, ApplicationError):
            return exc
        if isinstance(exc, DjangoValidationError):
            return ValidationFailed(exc)
        raise TypeError(f"{type(exc).__name__} is not an application error")


class ValidationFailed(ApplicationError, DjangoValidationError):  # type: ignore[misc]
    """The input is not acceptable (400). Also a Django `ValidationError`.

    Takes what Django's `ValidationError` takes — a message, a list, or a dict of field →
    message(s) — so forms (`form.add_error`) and `except ValidationError` keep working. The
    message is the joined messages; `fields` is the dict's messages.
    """

    status = 400
    code = "invalid"
    default_message = "The input is not valid."

    def __init__(
        self,
        message: Any,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        *,
        status: int | None = None,
    ) -> None:
        DjangoValidationError.__init__(self, message, code, params)
        fields = self.message_dict if hasattr(self, "error_dict") else {}
        text = " ".join(DjangoValidationError.messages.fget(self))  # type: ignore[attr-defined]
        # Django keeps a single message (and its code and params) on the error itself and
        # formats it when read: keep the formatted text, with nothing left to format.
        self.message = text or self.default_message
        self.params = None
        self.code = code or getattr(self, "code", None) or type(self).code
        if status is not None:
            self.status = status
        self.fields = _field_errors(fields)
        self.detail = None
        Exception.__init__(self, self.message)

    @property
    def messages(self) -> list[str]:
        return list(DjangoValidationError.messages.fget(self))  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ValidationFailed({self.message!r})"


class NotFound(ApplicationError, Http404):
    """The thing asked for does not exist (or is not the caller's to see)."""

    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    """The request conflicts with the current state (it exists already, it changed meanwhile)."""

    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(ApplicationError):
    """The request (or the message it carries) is larger than the limit it is held to (413).

    The message names the limit and where it comes from (the request body limit, or the cell's
    `max.message.bytes` for a produced message)."""

    status = 413
    code = "payload_too_large"
    default_message = "The request is too large."


class PermissionDenied(ApplicationError, DjangoPermissionDenied):
    """The caller may not do this. Also Django's `PermissionDenied`."""

    status = 403
    code = "permission_denied"
    default_message = "You are not allowed to do this."


class ServiceUnavailable(ApplicationError):
    """A service Skiff depends on is down or refused; retrying later may help."""

    status = 503
    code = "service_unavailable"
    default_message = "A service Skiff depends on is unavailable; try again in a moment."


class GatewayTimeout(ApplicationError):
    """A service Skiff depends on did not answer in time."""

    status = 504
    code = "timeout"
    default_message = "A service Skiff depends on did not answer in time."


def log_application_error(error: ApplicationError, *, where: str) -> None:
    """Server-side failures (5xx) are logged with what the user does not see (`detail`)."""
    if error.status >= 500:
        logger.warning(
            "%s answered %s %s: %s (%s)",
            where,
            error.status,
            error.code,
            error.message,
            error.detail or "no detail",
        )


def _field_errors(fields: Mapping[str, str | Iterable[str]] | None) -> FieldErrors:
    if not fields:
        return {}
    return {
        str(name): [str(ms)] if isinstance(ms, str) else [str(m) for m in ms]
        for name, ms in fields.items()
    }
