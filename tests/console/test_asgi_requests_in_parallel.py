"""Under the ASGI server (Daphne, both topologies) a request never queues behind another one.

Django runs a synchronous view in a thread of its own per request (asgiref's
ThreadSensitiveContext, entered by Django's ASGI handler), not in one thread shared by the
whole server: 20 cluster creates at once are served side by side (issue 20, goal 4). This
holds a request inside its view and checks that a create is answered meanwhile — no timing.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
from asgiref.testing import ApplicationCommunicator
from rest_framework.response import Response

from clusters.api import views as cluster_api
from clusters.models import Cluster
from clusters.services import clusters as cluster_services
from console.asgi import application
from console.services.teams import api_token_create
from tests.factories import MembershipFactory

WAIT = 60.0  # seconds: a bound for a failure, never reached when it works


def http_scope(method: str, path: str, token: str, body: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Token {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def start(scope: dict, body: bytes = b"") -> ApplicationCommunicator:
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    return communicator


async def answer(communicator: ApplicationCommunicator) -> tuple[int, bytes]:
    start_message = await communicator.receive_output(WAIT)
    body = b""
    while True:
        message = await communicator.receive_output(WAIT)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(WAIT)
    return start_message["status"], body


@pytest.mark.django_db(transaction=True)
def test_a_create_is_answered_while_another_request_is_still_in_its_view(monkeypatch):
    member = MembershipFactory(team__slug=f"p{uuid.uuid4().hex[:8]}")
    _, token = api_token_create(user=member.user, team=member.team, name="parallel")
    inside, release = threading.Event(), threading.Event()

    def held_list(self, request, *args, **kwargs):
        inside.set()
        assert release.wait(WAIT), "the held request was never released"
        return Response([])

    monkeypatch.setattr(cluster_api.ClusterViewSet, "list", held_list)
    # Only the request path is under test: provisioning is the task queue's (no Kafka here).
    monkeypatch.setattr(cluster_services, "_enqueue_provisioning", lambda cluster_id: None)
    body = json.dumps({"name": "side-by-side"}).encode()

    async def scenario() -> tuple[int, bytes, int]:
        held = await start(http_scope("GET", "/api/v1/clusters/", token))
        entered = await asyncio.get_running_loop().run_in_executor(None, inside.wait, WAIT)
        assert entered, "the first request never reached its view"
        try:
            create = await start(http_scope("POST", "/api/v1/clusters/", token, body), body)
            try:
                status, created = await answer(create)
            except TimeoutError:
                pytest.fail(
                    "the create was not answered while another request was in its view: "
                    "synchronous views are serialized in one thread"
                )
            assert not release.is_set()  # the other request was held all along
        finally:
            release.set()
        held_status, _ = await answer(held)
        return status, created, held_status

    status, created, held_status = asyncio.run(scenario())
    assert status == 201, created
    assert held_status == 200
    assert Cluster.objects.filter(team=member.team, name="side-by-side").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_streamed_answer_arrives_whole_and_its_request_ends_after_the_last_chunk(monkeypatch):
    """console/http_handler.py: a streaming response (a CSV export) is sent chunk by chunk
    and closed (request_finished, the database connection given back) only after the last."""
    from django.core.signals import request_finished
    from django.http import StreamingHttpResponse

    member = MembershipFactory(team__slug=f"s{uuid.uuid4().hex[:8]}")
    _, token = api_token_create(user=member.user, team=member.team, name="streaming")
    sent: list[int] = []
    finished_after: list[int] = []

    def chunks():
        for i in range(5):
            sent.append(i)
            yield f"row {i}\n".encode()

    def streamed_list(self, request, *args, **kwargs):
        return StreamingHttpResponse(chunks(), content_type="text/csv")

    def on_finished(**kwargs):
        finished_after.append(len(sent))

    monkeypatch.setattr(cluster_api.ClusterViewSet, "list", streamed_list)
    request_finished.connect(on_finished)
    try:

        async def scenario() -> tuple[int, bytes]:
            return await answer(await start(http_scope("GET", "/api/v1/clusters/", token)))

        status, body = asyncio.run(scenario())
    finally:
        request_finished.disconnect(on_finished)
    assert status == 200
    assert body == b"".join(f"row {i}\n".encode() for i in range(5))
    assert finished_after == [5]


@pytest.mark.django_db(transaction=True)
def test_what_a_request_sets_in_a_context_variable_ends_with_it(monkeypatch):
    """Threads serve one request after another (console/http_handler.py): a context variable a
    request sets (the audit actor, the Kafka call budget) is not seen by the next one."""
    from contextvars import ContextVar

    member = MembershipFactory(team__slug=f"c{uuid.uuid4().hex[:8]}")
    _, token = api_token_create(user=member.user, team=member.team, name="contexts")
    marker: ContextVar[str] = ContextVar("marker", default="unset")
    seen: list[str] = []

    def marking_list(self, request, *args, **kwargs):
        seen.append(marker.get())
        marker.set("left behind")
        return Response([])

    monkeypatch.setattr(cluster_api.ClusterViewSet, "list", marking_list)

    async def scenario() -> list[int]:
        statuses = []
        for _ in range(3):
            status, _ = await answer(await start(http_scope("GET", "/api/v1/clusters/", token)))
            statuses.append(status)
        return statuses

    assert asyncio.run(scenario()) == [200, 200, 200]
    assert seen == ["unset", "unset", "unset"]
