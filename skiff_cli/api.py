"""The console's REST API, as the command line uses it: one client, one error translation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from skiff_cli import __name__ as _package
from skiff_cli.errors import EXIT_UNAVAILABLE, CliError, exit_code_for_status

USER_AGENT = f"{_package.replace('_', '-')}/0.1"
# Long enough for a console call that waits on a slow cell (which answers 504 itself).
DEFAULT_TIMEOUT = 60.0


def _error_message(response: httpx.Response) -> str:
    """The API's own sentence (`detail`), plus field errors, on one line."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return f"HTTP {response.status_code}" + (f": {text[0][:200]}" if text else "")
    if isinstance(body, dict):
        parts = []
        if body.get("detail"):
            parts.append(str(body["detail"]))
        for name, messages in body.items():
            if name in ("detail", "code"):
                continue
            if isinstance(messages, list):
                messages = " ".join(str(m) for m in messages)
            parts.append(f"{name}: {messages}")
        if parts:
            return " ".join(parts)
    if isinstance(body, list) and body:
        return " ".join(str(item) for item in body)
    return f"HTTP {response.status_code}"


class Api:
    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=f"{self.url}/api/v1/",
            headers={
                "Authorization": f"Token {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=timeout,
            follow_redirects=False,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path.lstrip("/"), **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError(
                f"The console at {self.url} did not answer in time ({exc.__class__.__name__}).",
                exit_code=EXIT_UNAVAILABLE,
            ) from exc
        except httpx.HTTPError as exc:
            raise CliError(
                f"Cannot reach the console at {self.url}: {exc}", exit_code=EXIT_UNAVAILABLE
            ) from exc
        if response.status_code >= 400:
            raise CliError(
                _error_message(response), exit_code=exit_code_for_status(response.status_code)
            )
        return response

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        response = self.request("POST", path, json=body or {}, params=clean)
        return response.json() if response.content else None

    def put(self, path: str, body: Any, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("PUT", path, json=body, params=clean).json()

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()

    def delete(self, path: str) -> Any:
        response = self.request("DELETE", path)
        return response.json() if response.content else None

    def download(self, path: str, **params: Any) -> bytes:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean, headers={"Accept": "*/*"}).content

    def all(self, path: str, **params: Any) -> list[Any]:
        """Every row of a list endpoint, whatever its shape: a bare array, or a page object
        (`results` with `next`, or `page`/`pages`) followed to its end."""
        return list(self._rows(path, **params))

    def _rows(self, path: str, **params: Any) -> Iterator[Any]:
        body = self.get(path, **params)
        if isinstance(body, list):
            yield from body
            return
        while True:
            yield from body.get("results", [])
            if body.get("next"):
                following = self.request("GET", body["next"]).json()
            elif body.get("pages") and body.get("page") and body["page"] < body["pages"]:
                following = self.get(path, **{**params, "page": body["page"] + 1})
            else:
                return
            body = following
