"""The API's one exception handler, and the error body it writes (documented once, in the schema).

Every application error (`console.errors.ApplicationError`: validation, gateway, provisioning,
policy, billing…) answers with its own status and the body

    {"detail": "<a sentence for the user>", "code": "<stable code>", "<field>": ["<message>"]…}

A Django `ValidationError` is a `ValidationFailed` (400); DRF's own exceptions (authentication,
permissions, serializer input, 404) keep DRF's bodies, which are the same shape: `detail`, or
field → messages.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from console.api.parsers import too_large
from console.errors import ApplicationError, ValidationFailed, log_application_error


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # Django's body limit, met while DRF reads the body
        exc = too_large()
    elif isinstance(exc, TooManyFieldsSent):
        exc = ValidationFailed(str(exc) or "Too many form fields.")
    if isinstance(exc, (ApplicationError, DjangoValidationError)):
        error = ApplicationError.wrap(exc)
        log_application_error(error, where=_where(context))
        set_rollback()
        return Response(error.api_body(), status=error.status)
    return exception_handler(exc, context)


def _where(context: dict[str, Any]) -> str:
    request = context.get("request")
    if request is None:
        return "API"
    return f"{request.method} {request.path}"


# --- the schema: the error body, once --------------------------------------------------------

ERROR_RESPONSE = "ErrorResponse"

ERROR_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "The body of every error response. `detail` is a sentence for the user and `code` a "
        "stable code for programs (e.g. `invalid`, `not_found`, `topic_exists`, "
        "`kafka_not_authorized`, `kafka_unavailable`, `cell_timeout`). Input errors add one "
        "entry per field with its messages. DRF's own errors (authentication, permissions, "
        "input that does not match the serializer) send `detail` or the field entries only."
    ),
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, as a sentence."},
        "code": {"type": "string", "description": "A stable code for the kind of error."},
    },
    "additionalProperties": {
        "description": "Messages about one input field (nested input: an object of fields).",
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
            {"type": "object", "additionalProperties": True},
        ],
    },
}

# status → what it means, when the view gave no description of its own
_ERROR_STATUSES: dict[str, str] = {
    "400": "The input is not valid; field errors name the fields.",
    "401": "Not signed in, or the API token is not valid.",
    "403": "Your role does not allow this, or Kafka refused it for this cluster.",
    "404": "No such object in your team (another team's objects are not found either), or an "
    "unknown `?format=`.",
    "409": "The request conflicts with the current state (e.g. the topic exists already).",
    "413": "The body (or the message it carries) is over the limit the message names.",
    "415": "The body's Content-Type is not one the API reads (send application/json).",
    "502": "The Kafka cell refused the platform's request.",
    "503": "The Kafka cell is unavailable; try again in a moment.",
    "504": "The cell did not answer within the configured timeout; the message names it.",
}
_BODIES = {"post", "put", "patch"}
_WRITES = {*_BODIES, "delete"}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Paths whose operations may need a Kafka cell (and so may answer 502/503/504).
_CELL_PATHS = ("/api/v1/clusters/", "/api/v1/fleet/")


def error_statuses(path: str, method: str) -> list[str]:
    """Every error status an operation can answer, by what it is: any operation can be given
    bad input (400), no credentials (401), a role without the right (403), or miss what its
    path names or an unknown `?format=` (404); writes can conflict (409); a body can be too large
    (413) or of another type (415); one that may need a cell can meet it refusing (502),
    unavailable (503) or too slow (504)."""
    method = method.lower()
    # 404 on every operation: an object the path names may be missing, and DRF answers an
    # unknown `?format=` with 404 on any of them.
    statuses = ["400", "401", "403", "404"]
    if method in _WRITES:
        statuses.append("409")
    if method in _BODIES or method == "delete":
        statuses += ["413", "415"]
    if path.startswith(_CELL_PATHS):
        statuses += ["502", "503", "504"]
    return statuses


def document_error_body(result: dict[str, Any], generator: Any, request: Any, public: bool):
    """drf-spectacular postprocessing hook: the `ErrorResponse` component, and every
    operation's error responses pointing at it (a description the view gave is kept)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_RESPONSE] = copy.deepcopy(ERROR_RESPONSE_SCHEMA)
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    ref = {"$ref": f"#/components/schemas/{ERROR_RESPONSE}"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in error_statuses(path, method):
                given = responses.get(status, {})
                description = given.get("description") or _ERROR_STATUSES[status]
                responses[status] = {
                    "content": {"application/json": {"schema": dict(ref)}},
                    "description": description,
                }
    return result
