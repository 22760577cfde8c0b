"""Helpers for tests of Connect workers (issue 19), also for the tenant side's tests.

`worker_pid` and `kill_worker` find and SIGKILL the JVM of a tenant cluster's worker (what the
fault tests do); `wait_for` waits on a condition with a bound and a message.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import TypeVar

from fleet.services.connect_workers import connect_worker_pid

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], *, timeout: float, message: str, interval: float = 0.25
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout:g}s)")
        time.sleep(interval)


def worker_pid(tenant_prefix: str) -> int:
    """The pid of the running worker JVM of a tenant prefix (fails if none runs)."""
    pid = connect_worker_pid(tenant_prefix=tenant_prefix)
    assert pid is not None, f"no Connect worker runs for {tenant_prefix}"
    return pid


def kill_worker(tenant_prefix: str) -> int:
    """SIGKILL the worker JVM of a tenant prefix; returns the pid killed, once it is gone."""
    pid = worker_pid(tenant_prefix)
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: connect_worker_pid(tenant_prefix=tenant_prefix) != pid,
        timeout=15,
        message=f"the Connect worker (pid {pid}) did not die after SIGKILL",
    )
    return pid


def connector_running(client, name: str) -> bool:
    """The connector and all its tasks (at least one) report RUNNING."""
    from fleet.connect.client import ConnectorNotFound, ConnectUnavailable

    try:
        status = client.status(name)
    except (ConnectorNotFound, ConnectUnavailable):
        return False
    tasks = status.get("tasks", [])
    return (
        status["connector"]["state"] == "RUNNING"
        and bool(tasks)
        and all(t["state"] == "RUNNING" for t in tasks)
    )
