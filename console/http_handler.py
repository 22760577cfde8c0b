"""The ASGI handler for HTTP: Django's synchronous request path on a pool of reused threads.

Django's own ASGI handler runs every request in async mode: a thread made for the request
(asgiref's ThreadSensitiveContext), the middleware that cannot run async adapted with a hop to
that thread, a hop back to the event loop for the URL resolving and the view's adapter, and a
hop to the thread again for the view. Our middleware and views are all synchronous, so each
request paid those hops, the thread's start and end, and a new database connection for nothing:
a `GET /api/v1/clusters/{id}/` took 12.7 ms of CPU under Daphne against 6.4 ms through the
same middleware and view in process (issue 20, goal 4: 20 creates at once).

Here the event loop only reads the body and sends the answer, and everything between runs in
one call on a pool thread: the request signals, the middleware (loaded in sync mode) and the
view. Threads are reused, so a thread keeps its database connection when the database allows
it (console/sqlite: SQLite's are kept between requests). Requests still never queue behind one
another up to `SKIFF_HTTP_THREADS` in flight (`tests/console/test_asgi_requests_in_parallel.py`);
past that they wait for a thread, as under any threaded WSGI server. A request held on purpose
(`?wait=` on a cluster) takes at most half of them (clusters.services.state_waits).

Of the requests in flight, `SKIFF_HTTP_CONCURRENCY` run at once and the others wait for a turn
(console/request_turns.py): under one interpreter lock, more running at once only makes each
slower.

A streaming answer (a CSV export, a file) is sent as Django sends it, and closed on the pool
after its last chunk; any other answer is closed in the same call, before it is sent.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from console.request_turns import RequestTurns


class PooledThreadsHttpHandler(ASGIHandler):
    def __init__(self, *, threads: int, concurrency: int, queue_seconds: float) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._pool = _DaemonThreads(threads, name="skiff-http")
        self._turns = RequestTurns(concurrency=concurrency, queue_seconds=queue_seconds)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"This handler serves HTTP only, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            # In a copy of the loop's context, as Django runs sync code: what a request sets in
            # a context variable (the audit actor, the Kafka call budget) ends with it, and is
            # never seen by the next request the thread serves.
            context = contextvars.copy_context()
            response = await asyncio.wrap_future(
                self._pool.submit(context.run, self._respond, scope, body_file)
            )
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the answer was sent
            finally:
                if response.streaming:
                    await asyncio.wrap_future(self._pool.submit(response.close))
        finally:
            body_file.close()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        """The whole synchronous part of a request, in one pool thread, in its turn."""
        with self._turns.turn():
            return self._respond_now(scope, body_file)

    def _respond_now(self, scope, body_file) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[union-attr]
            if isinstance(response, FileResponse):
                # The ASGI server chunks the body itself: fewer, larger reads.
                response.block_size = self.chunk_size
        assert response is not None
        if not response.streaming:
            # The body is in memory: end the request here (request_finished, connections
            # given back) rather than in a second trip to the pool after sending.
            response.close()
        return response


class _DaemonThreads:
    """At most `size` daemon threads, made as the requests in flight need them and reused.

    Not a ThreadPoolExecutor: Python joins those at exit, so a console asked to stop would wait
    for every request held by `?wait=` (up to a minute) before it could.
    """

    def __init__(self, size: int, *, name: str) -> None:
        self._size = size
        self._name = name
        self._work: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._idle:
                self._idle -= 1  # a thread waiting for work takes it
            elif self._threads < self._size:
                self._threads += 1
                threading.Thread(
                    target=self._serve, name=f"{self._name}_{self._threads}", daemon=True
                ).start()
            # else: every thread is busy; the first to finish takes it
        self._work.put((future, fn, args))
        return future

    def _serve(self) -> None:
        while True:
            future, fn, args = self._work.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to the awaiting request
                    future.set_exception(exc)
            del future, fn, args
            with self._lock:
                self._idle += 1
