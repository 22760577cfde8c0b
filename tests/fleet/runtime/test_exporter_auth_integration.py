"""The metrics exporter agent answers the cell's own credential, whichever salt was drawn.

The agent we ship (jmx_exporter 1.0.1) compares the configured passwordHash with a hex string
of its SHA-256 that has lost its leading zeros. A digest starting with "0" (one salt in 16)
therefore locked the cell's own credential out, HTTP 401 for the JVM's whole life: the
intermittent 401 of a fresh cell's or a restarted node's exporter. Here the first salt drawn is
such a salt and the real agent, in a small JVM of its own, must answer the credential.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import subprocess
from pathlib import Path

import pytest

from fleet.runtime import launcher
from fleet.runtime.classpath import DEFAULT_FLEET_DIR, Runtime, RuntimeUnavailable, ensure_classpath
from tests.fleet.kafka.util import eventually

START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))

IDLE_MAIN = "public class Idle { public static void main(String[] a) throws Exception {"
IDLE_MAIN += " System.in.read(); } }\n"


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    try:
        return ensure_classpath(DEFAULT_FLEET_DIR)
    except RuntimeUnavailable as exc:
        pytest.fail(f"the Kafka runtime (Java, the exporter agent) is missing: {exc}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((launcher.LOCAL_HOST, 0))
        return int(s.getsockname()[1])


def _start_agent(
    runtime: Runtime, config: Path, port: int, console: Path
) -> subprocess.Popen[bytes]:
    idle = config.parent / "Idle.java"
    idle.write_text(IDLE_MAIN)
    with open(console, "wb") as out:
        return subprocess.Popen(
            [
                str(runtime.java),
                "-Xmx32m",
                f"-javaagent:{runtime.agent_jar}={launcher.LOCAL_HOST}:{port}:{config}",
                str(idle),
            ],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_the_exporter_answers_the_cell_credential_when_the_first_salt_would_lock_it_out(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, port, console = tmp_path / "jmx-exporter.yaml", _free_port(), tmp_path / "console"
    password = secrets.token_urlsafe(32)
    while True:
        unlucky = secrets.token_hex(16)
        if hashlib.sha256(f"{unlucky}:{password}".encode()).hexdigest().startswith("0"):
            break
    real = launcher.secrets.token_hex
    drawn = iter([unlucky])
    monkeypatch.setattr(launcher.secrets, "token_hex", lambda n=16: next(drawn, None) or real(n))
    config.write_text(
        launcher.render_metrics_config(
            runtime.metrics_config.read_text(),
            username=launcher.METRICS_USERNAME,
            password=password,
            topic_series=False,
        )
    )
    assert next(drawn, None) is None, "the unlucky salt was not drawn first"
    proc = _start_agent(runtime, config, port, console)
    url = f"http://{launcher.LOCAL_HOST}:{port}/-/healthy"
    try:

        def listening() -> None:
            if proc.poll() is not None:
                pytest.fail(
                    f"the agent's JVM exited ({proc.returncode}):\n{console.read_text()[-2000:]}"
                )
            assert launcher._probe_http(url) != launcher.PROBE_REFUSED

        eventually(listening, timeout=START_TIMEOUT, interval=0.2)
        outcome = launcher._probe_http(url, auth=(launcher.METRICS_USERNAME, password))
        assert outcome == "", f"the exporter refused the cell's own credential: {outcome}"
        wrong = launcher._probe_http(url, auth=(launcher.METRICS_USERNAME, password + "x"))
        assert wrong == "HTTP 401", f"a wrong password was answered with {wrong or '200'}"
    finally:
        proc.kill()
        proc.wait(timeout=30)
