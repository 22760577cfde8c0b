"""The one client of a Connect worker's REST API (issue 19): thin, typed, bounded.

Only the console calls a worker (its REST listener is on loopback and unauthenticated), and only
through this class, which turns what Connect answers into the console's error family:

- worker unreachable, or it answers 5xx            -> ConnectUnavailable (503, connect_unavailable)
- no answer in time                                 -> ConnectTimeout (504, connect_unavailable)
- a 4xx from Connect (a plugin's or Connect's own
  refusal: bad config, unknown class, ...)          -> ConnectorRejected (400, connector_rejected)
  with Connect's own message
- 404                                               -> ConnectorNotFound (404, connector_not_found)
- 409 (a rebalance is in progress)                  -> retried with a bound, then ConnectBusy (409)

Bodies are Connect's JSON as-is (`validate` returns Connect's ConfigInfos document).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from console.errors import ApplicationError, Conflict, GatewayTimeout, NotFound, ServiceUnavailable

JSONDict = dict[str, Any]


class ConnectUnavailable(ServiceUnavailable):
    code = "connect_unavailable"
    default_message = "The connector service of this cluster is not available; try again shortly."


class ConnectTimeout(GatewayTimeout):
    code = "connect_unavailable"
    default_message = "The connector service of this cluster did not answer in time; try again."


class ConnectorRejected(ApplicationError):
    status = 400
    code = "connector_rejected"
    default_message = "The connector service refused the request."


class ConnectorNotFound(NotFound):
    code = "connector_not_found"
    default_message = "No such connector."


class ConnectBusy(Conflict):
    code = "connect_rebalancing"
    default_message = "The connector service is rebalancing; try again in a few seconds."


def _message(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:500]
    if isinstance(document, dict) and document.get("message"):
        return str(document["message"])
    return ""


class ConnectClient:
    """`base_url` is a worker's REST root, e.g. http://127.0.0.1:40123."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 15.0,
        *,
        conflict_retry_seconds: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.conflict_retry_seconds = conflict_retry_seconds

    def __repr__(self) -> str:
        return f"ConnectClient({self.base_url!r})"

    # ---- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
    ) -> Any:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + self.conflict_retry_seconds
        delay = 0.25
        while True:
            request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
            request.add_header("Accept", "application/json")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                    raw = resp.read()
                    return json.loads(raw) if raw.strip() else None
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                message = _message(raw)
                if exc.code == 409 and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                raise self._error(exc.code, message, method, path) from exc
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError | socket.timeout):
                    raise ConnectTimeout(detail=f"{method} {url}: timed out") from exc
                raise ConnectUnavailable(detail=f"{method} {url}: {exc.reason}") from exc
            except TimeoutError as exc:
                raise ConnectTimeout(detail=f"{method} {url}: timed out") from exc
            except (ConnectionError, OSError) as exc:
                raise ConnectUnavailable(detail=f"{method} {url}: {exc}") from exc

    @staticmethod
    def _error(status: int, message: str, method: str, path: str) -> ApplicationError:
        detail = f"{method} {path}: HTTP {status}: {message}"
        if status == 404:
            return ConnectorNotFound(message or None, detail=detail)
        if status == 409:
            return ConnectBusy(detail=detail)
        if 400 <= status < 500:
            return ConnectorRejected(message or None, detail=detail)
        return ConnectUnavailable(detail=detail)

    @staticmethod
    def _name(name: str) -> str:
        return urllib.parse.quote(name, safe="")

    # ---- API -------------------------------------------------------------------------------

    def health(self) -> JSONDict:
        """Connect's health check (KIP-1017): 200 once the worker has started and joined its
        group; a 5xx (ConnectUnavailable) while it is starting."""
        return dict(self._request("GET", "/health"))

    def plugins(self) -> list[JSONDict]:
        """The connector plugins the worker has: [{"class", "type", "version"}, ...]."""
        return list(self._request("GET", "/connector-plugins"))

    def validate(self, class_name: str, config: dict[str, str]) -> JSONDict:
        """Connect's ConfigInfos for `config` (errors per field; nothing is created)."""
        body = {**config, "connector.class": class_name}
        plugin = self._name(class_name)
        return dict(self._request("PUT", f"/connector-plugins/{plugin}/config/validate", body))

    def create(self, name: str, config: dict[str, str]) -> JSONDict:
        return dict(self._request("POST", "/connectors", {"name": name, "config": config}))

    def connectors(self) -> list[str]:
        return list(self._request("GET", "/connectors"))

    def status(self, name: str) -> JSONDict:
        return dict(self._request("GET", f"/connectors/{self._name(name)}/status"))

    def config(self, name: str) -> dict[str, str]:
        return dict(self._request("GET", f"/connectors/{self._name(name)}/config"))

    def put_config(self, name: str, config: dict[str, str]) -> JSONDict:
        return dict(self._request("PUT", f"/connectors/{self._name(name)}/config", config))

    def offsets(self, name: str) -> list[JSONDict]:
        """The connector's committed offsets (KIP-875): [{"partition": {..}, "offset": {..}}]."""
        return list(self._request("GET", f"/connectors/{self._name(name)}/offsets")["offsets"])

    def pause(self, name: str) -> None:
        self._request("PUT", f"/connectors/{self._name(name)}/pause")

    def resume(self, name: str) -> None:
        self._request("PUT", f"/connectors/{self._name(name)}/resume")

    def restart(self, name: str, include_tasks: bool = True, only_failed: bool = False) -> None:
        query = {
            "includeTasks": str(include_tasks).lower(),
            "onlyFailed": str(only_failed).lower(),
        }
        self._request("POST", f"/connectors/{self._name(name)}/restart", query=query)

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{self._name(name)}")

    def task_status(self, name: str, task_id: int) -> JSONDict:
        return dict(self._request("GET", f"/connectors/{self._name(name)}/tasks/{task_id}/status"))
