"""Push on change (issue 20): a pass every second sends a cluster's document only when it changed,
or after the heartbeat; the throughput page says when its numbers were read."""

import re

import pytest
from django.test import Client

from clusters.throughput import document_time
from fleet.models import ThroughputSnapshot
from fleet.services.sampler import Publisher, Sampler, throughput_group_name
from tests.fleet.test_sampler import FakeFleet, setup  # noqa: F401 (the fixture)


class RecordingLayer:
    """A channel layer that keeps what was sent (the Publisher runs it on its own loop)."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))


def doc(ts: str, rate: float) -> dict:
    return {"ts": ts, "cluster": {"bytes_in_per_sec": rate}, "topics": {}, "partial": False}


def test_the_gate_sends_changes_and_heartbeats_only():
    publisher = Publisher(RecordingLayer(), heartbeat=5.0)
    a, b = throughput_group_name(1), throughput_group_name(2)
    assert publisher.changed([(a, doc("t0", 0)), (b, doc("t0", 0))], now=100.0) == [
        (a, doc("t0", 0)),
        (b, doc("t0", 0)),
    ]
    # The same numbers a second later: nothing to send, whatever the ts.
    assert publisher.changed([(a, doc("t1", 0)), (b, doc("t1", 0))], now=101.0) == []
    # One cluster's numbers moved: only its document goes.
    assert publisher.changed([(a, doc("t2", 5.0)), (b, doc("t2", 0))], now=102.0) == [
        (a, doc("t2", 5.0))
    ]
    # The heartbeat: an unchanged document is sent again once `heartbeat` s have passed.
    assert publisher.changed([(a, doc("t3", 5.0)), (b, doc("t3", 0))], now=105.5) == [
        (b, doc("t3", 0))
    ]
    assert publisher.skipped == 4
    # Without a heartbeat every document is sent (the previous behaviour, for callers that ask).
    every = Publisher(RecordingLayer())
    assert len(every.changed([(a, doc("t0", 0))] * 3, now=0.0)) == 3


def test_a_pass_pushes_a_cluster_only_when_its_numbers_change(setup):  # noqa: F811
    cell, (b1, _b2, _b3), cluster, other = setup
    fleet = FakeFleet()
    pay = f"{cluster.wire_prefix}payments"
    layer = RecordingLayer()
    # A heartbeat no test run reaches, so only changes are pushed, however slow the machine.
    publisher = Publisher(layer, heartbeat=3600.0)
    sampler = Sampler(
        timeout=1.0, fetch=fleet.fetch, clock=fleet.clock, now=fleet.now, publisher=publisher
    )
    mine, theirs = throughput_group_name(cluster.pk), throughput_group_name(other.pk)

    def pushed() -> list[str]:
        groups = [group for group, _message in layer.sent]
        layer.sent.clear()
        return groups

    try:
        fleet.counters[b1] = {("bytes_in", pay): 0}
        sampler.run_once()  # the first pass: no rates yet, nothing to push
        assert pushed() == []
        fleet.advance(1)
        sampler.run_once()  # both clusters' first documents
        assert sorted(pushed()) == sorted([mine, theirs])
        fleet.advance(1)
        sampler.run_once()  # nothing moved
        assert pushed() == []
        fleet.counters[b1] = {("bytes_in", pay): 1000}  # a message arrives
        fleet.advance(1)
        result = sampler.run_once()
        assert pushed() == [mine]  # at the very next pass, and to its cluster only
        assert result.documents[cluster.pk]["cluster"]["bytes_in_per_sec"] == pytest.approx(1000)
        fleet.advance(1)
        sampler.run_once()  # the rate falls back to zero: a change too
        assert pushed() == [mine]
        # Every pass still keeps the document for sockets that connect later and for the API.
        stored = ThroughputSnapshot.objects.get(cell=cell).clusters[str(cluster.pk)]
        assert stored["ts"] == fleet.moment.isoformat().replace("+00:00", "Z")
    finally:
        publisher.close()


def test_the_throughput_page_says_how_fresh_its_numbers_are(setup):  # noqa: F811
    from console.models import Membership, Role

    cell, (b1, _b2, _b3), cluster, _other = setup
    fleet = FakeFleet()
    fleet.counters[b1] = {("bytes_in", f"{cluster.wire_prefix}payments"): 0}
    sampler = fleet.sampler()
    sampler.run_once()
    fleet.advance(1)
    sampler.run_once()
    document = ThroughputSnapshot.objects.get(cell=cell).clusters[str(cluster.pk)]
    read = document_time(document)
    assert read == fleet.moment

    membership = Membership.objects.filter(team=cluster.team).first()
    if membership is None:
        from tests.factories import MembershipFactory

        membership = MembershipFactory(team=cluster.team, role=Role.VIEWER)
    client = Client()
    client.force_login(membership.user)
    html = client.get(f"/clusters/{cluster.pk}/throughput/").content.decode()
    found = re.search(r'id="throughput-as-of"[^>]*>Numbers as of (\d\d:\d\d:\d\d) UTC<', html)
    assert found, "the page does not say when its numbers were read"
    assert found.group(1) == read.strftime("%H:%M:%S")


def test_rows_are_written_every_flush_interval_and_no_byte_is_lost_in_between(setup):  # noqa: F811
    """Passes every second, rows every 5 s: a sampler that stops between two writes (killed,
    nothing flushed) loses no byte — the checkpoint on disk matches the rows on disk, and the
    next sampler counts the rest from it."""
    from fleet.models import TopicMinuteUsage

    cell, (b1, _b2, _b3), cluster, _other = setup
    fleet = FakeFleet()
    pay = f"{cluster.wire_prefix}payments"

    def stored() -> int:
        return sum(
            TopicMinuteUsage.objects.filter(cluster=cluster).values_list("bytes_in", flat=True)
        )

    def sampler() -> Sampler:
        return Sampler(
            timeout=1.0, fetch=fleet.fetch, clock=fleet.clock, now=fleet.now, flush_every=5.0
        )

    first = sampler()
    fleet.counters[b1] = {("bytes_in", pay): 0}
    first.run_once()  # the first pass writes (nothing to compare with: no rates, no bytes)
    for second in range(1, 4):  # 100 bytes a second, passes every second: not written yet
        fleet.advance(1)
        fleet.counters[b1] = {("bytes_in", pay): 100 * second}
        result = first.run_once()
        assert result.rows_written == 0
        assert result.documents[cluster.pk]["cluster"]["bytes_in_per_sec"] == pytest.approx(100)
    assert stored() == 0
    assert not ThroughputSnapshot.objects.filter(cell=cell).exists()  # pushed, not yet written
    fleet.advance(2)  # 5 s after the last write
    fleet.counters[b1] = {("bytes_in", pay): 500}
    assert first.run_once().rows_written == 1
    assert stored() == 500
    assert ThroughputSnapshot.objects.get(cell=cell).taken_at == fleet.moment

    # 200 more bytes, then the process dies before its next write.
    fleet.advance(1)
    fleet.counters[b1] = {("bytes_in", pay): 700}
    first.run_once()
    assert stored() == 500
    second = sampler()  # restarts from the checkpoint written with the rows
    fleet.advance(1)
    fleet.counters[b1] = {("bytes_in", pay): 800}
    second.run_once()
    assert stored() == 800  # every byte, once
    # On stop, what accumulated since the last write is written.
    fleet.advance(1)
    fleet.counters[b1] = {("bytes_in", pay): 850}
    second.run_once()
    assert stored() == 800
    second.flush_pending()
    assert stored() == 850
