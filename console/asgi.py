"""ASGI entry point: HTTP through Django (its synchronous path on a pool of threads,
console/http_handler.py), WebSockets through Channels with session auth (and the staff second
factor, as for pages)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from console.http_handler import PooledThreadsHttpHandler  # noqa: E402

django_asgi_app = PooledThreadsHttpHandler(threads=settings.SKIFF_HTTP_THREADS)

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
