"""ASGI entry point: HTTP through Django (its synchronous path on a pool of threads,
console/http_handler.py), WebSockets through Channels with session auth (and the staff second
factor, as for pages)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from console.http_handler import PooledThreadsHttpHandler  # noqa: E402
from console.request_turns import turn_given_back  # noqa: E402
from fleet.kafka.connection import set_cell_wait_hook  # noqa: E402

# A request that waits for a cell's answer lets the others run meanwhile.
set_cell_wait_hook(turn_given_back)

django_asgi_app = PooledThreadsHttpHandler(
    threads=settings.SKIFF_HTTP_THREADS,
    concurrency=settings.SKIFF_HTTP_CONCURRENCY,
    queue_seconds=settings.SKIFF_HTTP_QUEUE_SECONDS,
)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.middleware import StaffMFAWebSocketMiddleware  # noqa: E402
from console.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(StaffMFAWebSocketMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)

if settings.SKIFF_FREEZE_STARTUP_HEAP:
    from console.heap import freeze_startup_heap

    # Everything the server keeps for its life exists now: out of full collections with it.
    freeze_startup_heap()
