"""Issue 19, compose topology: the console hands a worker to the runner of the `connect`
service (SKIFF_CONNECT_RUNNER=compose) through the ConnectWorker row and the shared spec; the
runner (`run_connect_workers_once`, here in a thread of the test) starts the JVM, the console's
`ensure_connect_worker` returns once it answers, and stopping it is done by the runner too.
The `connect` host name of compose is 127.0.0.1 here."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from django.db import connections

from fleet.connect.runtime import LocalConnectWorker, free_port
from fleet.models import ConnectWorker
from fleet.services.connect_workers import (
    connect_client,
    connect_worker_pid,
    ensure_connect_worker,
    run_connect_workers_once,
    stop_connect_worker,
)
from tests.clusters.access_helpers import active_cluster, new_member
from tests.fleet.connect.helpers import wait_for

pytestmark = pytest.mark.kafka


class Runner(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="connect-runner", daemon=True)
        self.halt = threading.Event()
        self.passes = 0

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                run_connect_workers_once()
                self.passes += 1
                self.halt.wait(1.0)
        finally:
            connections.close_all()


def test_the_runner_starts_and_stops_what_the_console_asks_for(
    transactional_db, cell, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SKIFF_CONNECT_HOME = Path(os.environ.get("SKIFF_TEST_CONNECT_HOME") or tmp_path)
    settings.SKIFF_CONNECT_RUNNER = "compose"
    settings.SKIFF_CONNECT_REST_HOST = "127.0.0.1"
    cluster, key, secret = active_cluster(
        new_member("cr"), django_capture_on_commit_callbacks, name="runner"
    )
    prefix = cluster.wire_prefix
    ConnectWorker.objects.create(
        cell=cell, tenant_prefix=prefix, rest_port=free_port(), state=ConnectWorker.State.STOPPED
    )
    runner = Runner()
    runner.start()
    try:
        worker = ensure_connect_worker(
            cell=cell, tenant_prefix=prefix, username=key.username, password=secret
        )
        assert worker.state == ConnectWorker.State.RUNNING
        assert connect_worker_pid(tenant_prefix=prefix) is not None
        client = connect_client(tenant_prefix=prefix)
        assert client.health()["status"] == "healthy"
        assert client.connectors() == []

        stop_connect_worker(tenant_prefix=prefix)
        wait_for(
            lambda: connect_worker_pid(tenant_prefix=prefix) is None,
            timeout=60,
            message="the runner did not stop the worker the console stopped",
        )
        passes = runner.passes
        wait_for(lambda: runner.passes >= passes + 2, timeout=60, message="runner stalled")
        assert connect_worker_pid(tenant_prefix=prefix) is None  # and it stays stopped
    finally:
        runner.halt.set()
        runner.join(30)
        ConnectWorker.objects.filter(tenant_prefix=prefix).update(state=ConnectWorker.State.STOPPED)
        LocalConnectWorker(settings.SKIFF_CONNECT_HOME, prefix).stop()
