"""Django's error handlers (handler400/403/404/500, CSRF failure): the styled error page.

Every error a browser meets is `errors/error.html`, inside the layout with its navigation,
whatever `DEBUG` says for 403 and CSRF, and with `DEBUG` off (what `make run` serves) for
404 and 500. The traceback of a 500 goes to the log only (Django's request logger has
already written it when `server_error` runs).

`server_error` must not fail itself: the layout reads the database (team switcher, context
processors), and a 500 may be the database's fault. If the full page cannot be rendered, a
small page with the same words and a link home is served instead.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import escape

logger = logging.getLogger(__name__)

_FALLBACK = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{status} · {title} · Skiff</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{status} · {title}</h1><p>{message}</p>
<p><a href="/">Back to the console</a></p></main></body></html>
"""


class _Message:
    def __init__(self, message: str) -> None:
        self.message = message


_API_CODES = {400: "invalid", 403: "permission_denied", 404: "not_found", 500: "server_error"}


def error_page(request: HttpRequest, *, status: int, title: str, message: str) -> HttpResponse:
    """The styled error page, or the small fallback page if the layout cannot render.

    Under /api/ (an address no route matches, e.g. a path parameter of the wrong type) the
    answer is the API's error body instead: JSON, as the schema documents every error."""
    if request.path.startswith("/api/"):
        body = {"detail": f"{title}.", "code": _API_CODES.get(status, "error")}
        return JsonResponse(body, status=status)
    context = {"error": _Message(message), "status": status, "title": title}
    try:
        return render(request, "errors/error.html", context, status=status)
    except Exception:
        logger.exception("the styled %s page could not be rendered; serving the plain one", status)
        body = _FALLBACK.format(status=status, title=escape(title), message=escape(message))
        return HttpResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(
        request,
        status=400,
        title="That did not work",
        message="The request could not be understood. Go back and try again.",
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    text = str(exception) if exception is not None else ""
    return error_page(
        request,
        status=403,
        title="Not allowed",
        message=text or "Your role in this team does not allow this page.",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(
        request,
        status=404,
        title="Not found",
        message="There is nothing here, or it is not yours to see. Check the address, or "
        "start again from the console.",
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return error_page(
        request,
        status=500,
        title="Something went wrong",
        message="The console could not finish this request. The details are in the server's "
        "log; try again in a moment.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    logger.warning("CSRF failure on %s %s: %s", request.method, request.path, reason)
    return error_page(
        request,
        status=403,
        title="The form expired",
        message="This form was opened in an earlier session or its security token did not "
        "match. Reload the page and send it again.",
    )
