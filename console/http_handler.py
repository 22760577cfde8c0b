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

A streaming answer (a CSV export, a file) is sent as Django sends it, and closed on the pool
after its last chunk; any other answer is closed in the same call, before it is sent.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix


class PooledThreadsHttpHandler(ASGIHandler):
    def __init__(self, *, threads: int) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="skiff-http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"This handler serves HTTP only, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._pool, self._respond, scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the answer was sent
            finally:
                if response.streaming:
                    await loop.run_in_executor(self._pool, response.close)
        finally:
            body_file.close()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        """The whole synchronous part of a request, in one pool thread."""
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
