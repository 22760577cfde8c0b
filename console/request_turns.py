"""How many HTTP requests of a console process run at once; the others wait for a turn.

All of a request's Python runs under one interpreter lock, so 20 requests that arrive
together and all run share one core in 5 ms slices: each takes about 20 times as long, and one
that holds SQLite's write lock holds it that much longer while the others wait for it. Run a
few at a time (`SKIFF_HTTP_CONCURRENCY`, 2) and the same requests end sooner, the first ones
much sooner (issue 20: 20 creates at once, POST answered p50 170 to 280 ms against 280 to 310 ms,
create → ACTIVE p95 0.81 to 0.90 s against 1.01 to 1.04 s).

A request gives its turn back while it waits (`turn_given_back`): for a cell's answer (the
gateway's hook, set in console.asgi) and when held on purpose (a `?wait=` until a cluster
settles, clusters.services.state_waits). And it waits at most `SKIFF_HTTP_QUEUE_SECONDS` (1)
for a turn, then runs anyway: a few slow requests can delay the others by that much, never
stall them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RequestTurns:
    def __init__(self, *, concurrency: int, queue_seconds: float) -> None:
        self._turns = threading.BoundedSemaphore(max(1, concurrency))
        self._queue_seconds = queue_seconds

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Run the block in a turn, or without one after waiting the queue time."""
        held = self._turns.acquire(timeout=self._queue_seconds)
        _current.turns = self if held else None
        try:
            yield
        finally:
            if _current.turns is self:
                self._turns.release()
            _current.turns = None

    def _give_back(self) -> None:
        self._turns.release()

    def _take_again(self) -> bool:
        return self._turns.acquire(timeout=self._queue_seconds)


class _Current(threading.local):
    turns: RequestTurns | None = None


_current = _Current()


@contextmanager
def turn_given_back() -> Iterator[None]:
    """Let other requests run while this one blocks (outside a request: nothing to give)."""
    turns = _current.turns
    if turns is None:
        yield
        return
    _current.turns = None
    turns._give_back()
    try:
        yield
    finally:
        if turns._take_again():
            _current.turns = turns
