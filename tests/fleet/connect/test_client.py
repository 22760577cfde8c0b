"""Issue 19: the Connect REST client's error mapping (unit; a local HTTP server plays Connect).

Connect's errors are JSON `{"error_code": N, "message": "..."}`; each status becomes one error of
the console's family, with Connect's own message where a user can act on it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleet.connect.client import (
    ConnectBusy,
    ConnectClient,
    ConnectorNotFound,
    ConnectorRejected,
    ConnectTimeout,
    ConnectUnavailable,
)

# path -> list of (status, body) answered in turn (the last one repeats)
SCRIPT: dict[str, list[tuple[int, object]]] = {}
SEEN: list[tuple[str, str, object]] = []


class FakeConnect(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        SEEN.append((self.command, self.path, body))
        answers = SCRIPT.get(self.path.split("?")[0], [(404, {"error_code": 404, "message": "?"})])
        status, document = answers.pop(0) if len(answers) > 1 else answers[0]
        if status == 0:  # hang: the client must time out
            threading.Event().wait(3)
            return
        raw = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def connect() -> Iterator[ConnectClient]:
    SCRIPT.clear()
    SEEN.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeConnect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ConnectClient(
            f"http://127.0.0.1:{server.server_address[1]}", timeout=1.0, conflict_retry_seconds=2
        )
    finally:
        server.shutdown()
        server.server_close()


def error(status: int, message: str) -> tuple[int, dict]:
    return status, {"error_code": status, "message": message}


def test_answers_are_connects_json(connect):
    SCRIPT["/connectors"] = [(200, ["a", "b"])]
    SCRIPT["/connectors/my%20sink/status"] = [(200, {"name": "my sink", "tasks": []})]
    SCRIPT["/connectors/my%20sink"] = [(204, None)]
    assert connect.connectors() == ["a", "b"]
    assert connect.status("my sink")["name"] == "my sink"  # names are quoted in paths
    connect.delete("my sink")
    assert SEEN[-1][:2] == ("DELETE", "/connectors/my%20sink")


def test_validate_sends_the_class_and_returns_config_infos(connect):
    path = "/connector-plugins/io.debezium.connector.jdbc.JdbcSinkConnector/config/validate"
    SCRIPT[path] = [(200, {"error_count": 1, "configs": []})]
    answer = connect.validate("io.debezium.connector.jdbc.JdbcSinkConnector", {"topics": "t"})
    assert answer == {"error_count": 1, "configs": []}
    assert SEEN[-1] == (
        "PUT",
        path,
        {"topics": "t", "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector"},
    )


def test_restart_passes_its_flags(connect):
    SCRIPT["/connectors/s/restart"] = [(202, {"name": "s"})]
    connect.restart("s", include_tasks=True, only_failed=True)
    assert SEEN[-1][1] == "/connectors/s/restart?includeTasks=true&onlyFailed=true"


def test_a_4xx_is_a_400_with_connects_own_message(connect):
    message = "Connector configuration is invalid and contains the following 1 error(s): ..."
    SCRIPT["/connectors"] = [error(400, message)]
    with pytest.raises(ConnectorRejected) as excinfo:
        connect.create("s", {"connector.class": "x"})
    assert (excinfo.value.status, excinfo.value.code) == (400, "connector_rejected")
    assert excinfo.value.message == message


def test_404_is_not_found(connect):
    SCRIPT["/connectors/gone/status"] = [error(404, "No status found for connector gone")]
    with pytest.raises(ConnectorNotFound) as excinfo:
        connect.status("gone")
    assert (excinfo.value.status, excinfo.value.code) == (404, "connector_not_found")


def test_409_is_retried_then_answers(connect):
    SCRIPT["/connectors/s/pause"] = [
        error(409, "Cannot complete request because of a conflicting operation"),
        error(409, "Cannot complete request because of a conflicting operation"),
        (202, None),
    ]
    connect.pause("s")
    assert [s[1] for s in SEEN] == ["/connectors/s/pause"] * 3


def test_409_for_too_long_is_busy(connect):
    SCRIPT["/connectors/s/resume"] = [error(409, "rebalance in progress")]
    with pytest.raises(ConnectBusy) as excinfo:
        connect.resume("s")
    assert (excinfo.value.status, excinfo.value.code) == (409, "connect_rebalancing")
    assert len(SEEN) > 1


def test_a_5xx_is_unavailable_without_connects_text(connect):
    SCRIPT["/connectors"] = [error(500, "java.lang.NullPointerException at ...")]
    with pytest.raises(ConnectUnavailable) as excinfo:
        connect.connectors()
    assert (excinfo.value.status, excinfo.value.code) == (503, "connect_unavailable")
    assert "NullPointer" not in excinfo.value.message
    assert "NullPointer" in (excinfo.value.detail or "")


def test_no_answer_in_time_is_a_timeout(connect):
    SCRIPT["/connectors"] = [(0, None)]
    with pytest.raises(ConnectTimeout) as excinfo:
        connect.connectors()
    assert (excinfo.value.status, excinfo.value.code) == (504, "connect_unavailable")


def test_no_worker_listening_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(ConnectUnavailable) as excinfo:
        ConnectClient(f"http://127.0.0.1:{port}", timeout=1.0).plugins()
    assert (excinfo.value.status, excinfo.value.code) == (503, "connect_unavailable")
