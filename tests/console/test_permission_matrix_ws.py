"""WebSocket routes of the permission matrix: each connects or is refused as its WS_ROUTES row in
test_permission_matrix.py says. Separate module: consumers read the database from other threads,
so the world here is committed (transactional), unlike the HTTP matrix's rolled-back one."""

import tempfile
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from console.routing import websocket_urlpatterns
from tests.console.test_permission_matrix import PRINCIPALS, WS_ROUTES, build_world, no_kafka

__all__ = ["no_kafka"]  # the fixture, used below


def ws_path(pattern, kwargs: dict) -> str:
    route = str(pattern.pattern)
    for key, value in kwargs.items():
        for spelled in (f"<int:{key}>", f"<str:{key}>", f"<slug:{key}>", f"<{key}>"):
            route = route.replace(spelled, str(value))
    return "/" + route


@pytest.mark.django_db(transaction=True)
def test_websocket_subscriptions_follow_the_table(no_kafka):
    if not websocket_urlpatterns:
        return  # nothing to check yet; test_every_websocket_route_has_a_row guards the table
    from console.asgi import application

    with tempfile.TemporaryDirectory() as tmp:
        world = build_world(Path(tmp))
    failures = []
    for pattern in websocket_urlpatterns:
        kwargs_for, expect = WS_ROUTES[pattern.name]
        for principal in PRINCIPALS:
            path = ws_path(pattern, kwargs_for(world, principal))
            headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
            if principal != "anonymous":
                cookie = f"{settings.SESSION_COOKIE_NAME}={world.sessions[principal]}"
                headers.append((b"cookie", cookie.encode()))

            async def attempt(path=path, headers=headers):
                communicator = WebsocketCommunicator(application, path, headers=headers)
                connected, _ = await communicator.connect(timeout=5)
                await communicator.disconnect()
                return connected

            outcome = "accept" if async_to_sync(attempt)() else "reject"
            if outcome != expect[principal]:
                failures.append(
                    f"{pattern.name} as {principal}: {outcome}, not {expect[principal]}"
                )
    assert not failures, "\n".join(failures)
