"""Holding an API answer until a cluster leaves CREATING or DELETING (`GET …/clusters/{id}/?wait=`).

A client that wants its cluster ACTIVE would otherwise poll, and 20 clients polling at once
spend most of the console's CPU answering "still CREATING" to each other while the
provisionings they wait for queue behind those answers (issue 20, goal 4). One held request per
client costs a database read every `RECHECK` seconds instead.

In the process that provisions the cluster (the embedded server's task pool, inline tasks), the
change wakes the held request at once (`cluster_settled`, after the commit). A change made by
another process (a Celery worker) is seen at the next re-check.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import transaction

from clusters.models import Cluster
from clusters.selectors import cluster_state
from console.request_turns import turn_given_back

TRANSITIONAL = frozenset({Cluster.State.CREATING, Cluster.State.DELETING})
# How often a held request reads the state itself: the bound on how late it sees a change
# made in another process.
RECHECK = 0.25
MAX_WAIT = 60.0

_lock = threading.Lock()
_waiting: dict[int, set[threading.Event]] = {}


def wait_while_transitional(*, cluster_id: int, timeout: float) -> str | None:
    """Return once the cluster is in neither CREATING nor DELETING, or is stuck in one with a
    reason (a deletion that must be retried), or after `timeout` seconds: its state then (None
    once the row is gone)."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT)
    woken = threading.Event()
    with _lock:
        if sum(len(events) for events in _waiting.values()) >= max_held_requests():
            # Every held request keeps one of the process's HTTP threads: past half of them,
            # answer at once (the client asks again) rather than leave requests to queue.
            row = cluster_state(cluster_id=cluster_id)
            return None if row is None else row[0]
        _waiting.setdefault(cluster_id, set()).add(woken)
    try:
        while True:
            row = cluster_state(cluster_id=cluster_id)
            remaining = deadline - time.monotonic()
            if row is None or settled(*row) or remaining <= 0:
                return None if row is None else row[0]
            with turn_given_back():  # other requests run meanwhile (console/request_turns.py)
                woken.wait(min(RECHECK, remaining))
            woken.clear()
    finally:
        with _lock:
            waiting = _waiting.get(cluster_id, set())
            waiting.discard(woken)
            if not waiting:
                _waiting.pop(cluster_id, None)


def settled(state: str, reason: str) -> bool:
    """Whether a wait has nothing to wait for: the cluster is in neither CREATING nor DELETING,
    or is stuck in one with a reason (a deletion that must be retried)."""
    return state not in TRANSITIONAL or bool(reason)


def max_held_requests() -> int:
    """Requests a process holds at once: half of its HTTP threads (console/http_handler.py)."""
    return max(1, settings.SKIFF_HTTP_THREADS // 2)


def cluster_settled(cluster_id: int) -> None:
    """Wake this process's requests held on the cluster once the current transaction commits
    (at once outside one)."""
    transaction.on_commit(lambda: _wake(cluster_id))


def _wake(cluster_id: int) -> None:
    with _lock:
        waiting = list(_waiting.get(cluster_id, ()))
    for woken in waiting:
        woken.set()
