"""The throughput socket: a member receives their cluster's pushes; anyone else is refused."""

import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from console.asgi import application
from console.models import Membership, Role
from fleet.models import Broker
from fleet.services.sampler import Publisher, Sampler, throughput_group_name
from tests.factories import CellFactory, ClusterFactory, MembershipFactory
from tests.fleet.metrics_texts import exporter_text

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(path: str, cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture
def world():
    cell = CellFactory()
    Broker.objects.create(
        cell=cell, node_id=1, host="h", port=1, metrics_url="http://broker-1.test/metrics"
    )
    member = MembershipFactory(team__slug=f"m{uuid.uuid4().hex[:8]}", role=Role.VIEWER)
    outsider = MembershipFactory(team__slug=f"x{uuid.uuid4().hex[:8]}", role=Role.OWNER)
    cluster = ClusterFactory(team=member.team, name="orders", cell=cell)
    theirs = ClusterFactory(team=outsider.team, name="orders", cell=cell)
    return member, outsider, cluster, theirs


class Counters:
    def __init__(self):
        self.value = 0
        self.topic = ""
        self.t = 0.0

    def fetch(self, url, timeout):
        return exporter_text({("bytes_in", self.topic): self.value})

    def clock(self):
        return self.t


def test_member_receives_each_scrape_and_others_are_refused(world):
    member, outsider, cluster, theirs = world
    counters = Counters()
    counters.topic = f"{cluster.wire_prefix}payments"
    sampler = Sampler(timeout=1, fetch=counters.fetch, clock=counters.clock, publisher=Publisher())
    path = f"/ws/clusters/{cluster.pk}/throughput/"
    mine, other = session_cookie(member.user), session_cookie(outsider.user)

    async def scenario():
        ws = socket(path, mine)
        connected, _ = await ws.connect()
        assert connected
        first = await ws.receive_json_from(timeout=5)  # the last known document, at once
        assert set(first) >= {"ts", "cluster", "topics"}
        assert first["cluster"]["bytes_in_per_sec"] == 0

        await sync_to_async(sampler.run_once)()  # first sample: nothing to push yet
        assert await ws.receive_nothing(timeout=0.5)
        counters.value, counters.t = 5000, 5.0
        await sync_to_async(sampler.run_once)()
        pushed = await ws.receive_json_from(timeout=5)
        assert pushed["topics"]["payments"]["bytes_in_per_sec"] == pytest.approx(1000.0)
        assert pushed["cluster"]["bytes_in_per_sec"] == pytest.approx(1000.0)
        assert await ws.receive_nothing(timeout=0.5)  # one message per cluster per scrape

        # The topic page's socket gets that topic's share only.
        topic_ws = socket(f"/ws/clusters/{cluster.pk}/topics/payments/throughput/", mine)
        assert (await topic_ws.connect())[0]
        only = await topic_ws.receive_json_from(timeout=5)
        assert set(only["topics"]) == {"payments"}
        assert only["cluster"]["bytes_in_per_sec"] == pytest.approx(1000.0)
        # And so does each push (cut once per push, whatever the number of topic sockets).
        counters.value, counters.t = 7000, 6.0
        await sync_to_async(sampler.run_once)()
        pushed_share = await topic_ws.receive_json_from(timeout=5)
        assert set(pushed_share["topics"]) == {"payments"}
        assert pushed_share["cluster"]["bytes_in_per_sec"] == pytest.approx(2000.0)
        assert (await ws.receive_json_from(timeout=5))["topics"]["payments"] == pushed_share[
            "cluster"
        ]
        await topic_ws.disconnect()

        # Another team's member, an anonymous user, an unknown cluster: refused at handshake.
        for refused in (
            socket(path, other),
            socket(path),
            socket(f"/ws/clusters/{theirs.pk + 1000}/throughput/", mine),
            socket(f"/ws/clusters/{theirs.pk}/throughput/", mine),
        ):
            connected, _ = await refused.connect()
            assert not connected
        await ws.disconnect()

    async_to_sync(scenario)()
    sampler.publisher.close()


def test_a_member_removed_from_the_team_stops_receiving(world, monkeypatch):
    member, _outsider, cluster, _ = world
    monkeypatch.setattr("clusters.consumers.RECHECK_SECONDS", 0.3)
    layer_publisher = Publisher()
    mine = session_cookie(member.user)
    group = throughput_group_name(cluster.pk)

    async def scenario():
        ws = socket(f"/ws/clusters/{cluster.pk}/throughput/", mine)
        assert (await ws.connect())[0]
        await ws.receive_json_from(timeout=5)
        document = {"ts": "2026-01-01T00:00:00Z", "cluster": {}, "topics": {}, "partial": False}
        await sync_to_async(layer_publisher.send)([(group, document)])
        assert await ws.receive_json_from(timeout=5) == document
        assert await ws.receive_nothing(timeout=1.0)  # rechecks pass quietly while a member

        await sync_to_async(Membership.objects.filter(pk=member.pk).delete)()
        # Closed by the recheck within a period, with no push needed to notice.
        closed = await ws.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4403}
        await sync_to_async(layer_publisher.send)([(group, document)])
        assert await ws.receive_nothing(timeout=0.5)  # out of the group: nothing more

    async_to_sync(scenario)()
    layer_publisher.close()
