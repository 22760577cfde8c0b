"""The sampler pass against fake broker endpoints: mapping, documents, rows, dead brokers."""

import datetime as dt
import urllib.parse
import uuid

import pytest

from clusters.models import Cluster
from fleet.models import Broker, SamplerCheckpoint, ThroughputSnapshot, TopicMinuteUsage
from fleet.services.rates import READ_FAMILIES
from fleet.services.sampler import (
    Sampler,
    metrics_request_url,
    split_wire_name,
    throughput_group_name,
)
from tests.factories import CellFactory, ClusterFactory, TeamFactory
from tests.fleet.metrics_texts import exporter_text

START = dt.datetime(2026, 3, 1, 12, 0, 10, tzinfo=dt.UTC)


class FakeFleet:
    """Metric endpoints by URL; a URL in `down` refuses connections like a dead broker."""

    def __init__(self):
        self.counters: dict[str, dict] = {}
        self.sizes: dict[str, dict] = {}
        self.down: set[str] = set()
        self.t = 0.0
        self.moment = START

    def fetch(self, url, timeout):
        assert timeout > 0
        if url in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return exporter_text(self.counters.get(url, {}), self.sizes.get(url, {}))

    def clock(self):
        return self.t

    def now(self):
        return self.moment

    def advance(self, seconds):
        self.t += seconds
        self.moment += dt.timedelta(seconds=seconds)

    def sampler(self):
        return Sampler(timeout=1.0, fetch=self.fetch, clock=self.clock, now=self.now)


@pytest.fixture
def setup(db):
    cell = CellFactory()
    urls = []
    for node in (1, 2, 3):
        url = f"http://broker-{node}.test:9404/metrics"
        Broker.objects.create(cell=cell, node_id=node, host="h", port=9092, metrics_url=url)
        urls.append(url)
    team = TeamFactory(slug=f"t{uuid.uuid4().hex[:8]}")
    other_team = TeamFactory(slug=f"o{uuid.uuid4().hex[:8]}")
    cluster = ClusterFactory(team=team, name="orders", cell=cell)
    other = ClusterFactory(team=other_team, name="orders", cell=cell)
    return cell, urls, cluster, other


def usage(cluster):
    return {
        (row.topic, row.minute): (row.bytes_in, row.bytes_out, row.messages_in, row.storage_bytes)
        for row in TopicMinuteUsage.objects.filter(cluster=cluster)
    }


def test_split_wire_name():
    assert split_wire_name("acme.orders.pay.ments") == ("acme.orders.", "pay.ments")
    assert split_wire_name("__consumer_offsets") is None
    assert split_wire_name("acme.orders.") is None


def test_scrapes_ask_the_exporter_for_the_read_families_only():
    url = metrics_request_url("http://kafka-1:7071/metrics")
    parts = urllib.parse.urlsplit(url)
    assert (parts.netloc, parts.path) == ("kafka-1:7071", "/metrics")
    assert urllib.parse.parse_qs(parts.query) == {"name[]": list(READ_FAMILIES)}
    kept = urllib.parse.parse_qs(
        urllib.parse.urlsplit(metrics_request_url("http://kafka-1:7071/metrics?x=1")).query
    )
    assert kept["x"] == ["1"]


def test_topics_map_to_clusters_by_prefix_and_aggregate(setup):
    cell, (b1, b2, b3), cluster, other = setup
    fleet = FakeFleet()
    pay, ref = f"{cluster.wire_prefix}payments", f"{cluster.wire_prefix}refunds"
    theirs = f"{other.wire_prefix}payments"
    fleet.counters[b1] = {("bytes_in", pay): 1000, ("messages_in", pay): 10}
    fleet.counters[b2] = {("bytes_in", theirs): 50}
    fleet.counters[b3] = {("bytes_in", "__consumer_offsets"): 7, ("bytes_in", "ghost.x.y"): 9}
    fleet.sizes[b1] = {(pay, 0): 4000, (ref, 0): 100}
    fleet.sizes[b2] = {(pay, 0): 3990, (theirs, 0): 10}
    sampler = fleet.sampler()

    first = sampler.run_once()
    assert first.documents == {}  # first sample: no rates to show yet

    fleet.advance(5)
    fleet.counters[b1] = {("bytes_in", pay): 6000, ("messages_in", pay): 60}
    fleet.counters[b2] = {("bytes_in", theirs): 550, ("bytes_in", ref): 500}  # ref: new series
    fleet.counters[b3] = {("bytes_in", "__consumer_offsets"): 70, ("bytes_in", "ghost.x.y"): 90}
    second = sampler.run_once()

    mine = second.documents[cluster.pk]
    assert mine["topics"]["payments"]["bytes_in_per_sec"] == pytest.approx(1000.0)
    assert mine["topics"]["payments"]["messages_in_per_sec"] == pytest.approx(10.0)
    assert mine["topics"]["payments"]["storage_bytes"] == 4000  # largest replica
    assert mine["topics"]["refunds"]["bytes_in_per_sec"] == pytest.approx(100.0)
    assert mine["cluster"]["bytes_in_per_sec"] == pytest.approx(1100.0)
    assert mine["cluster"]["storage_bytes"] == 4100
    assert mine["partial"] is False
    assert set(mine) == {"ts", "cluster", "topics", "partial"}
    assert mine["ts"] == "2026-03-01T12:00:15Z"
    assert set(second.documents[other.pk]["topics"]) == {"payments"}
    assert second.documents[other.pk]["cluster"]["bytes_in_per_sec"] == pytest.approx(100.0)
    assert len(second.documents) == 2  # platform and unknown prefixes belong to nobody
    assert throughput_group_name(cluster.pk) != throughput_group_name(other.pk)

    snapshot = ThroughputSnapshot.objects.get(cell=cell)
    assert snapshot.clusters[str(cluster.pk)] == mine

    minute = START.replace(second=0)
    assert usage(cluster) == {
        ("payments", minute): (5000, 0, 50, 4000),
        ("refunds", minute): (500, 0, 0, 100),
    }
    assert usage(other) == {("payments", minute): (500, 0, 0, 10)}


def test_a_dead_broker_is_marked_and_skipped_and_its_gap_is_not_lost(setup):
    _cell, (b1, b2, _b3), cluster, _ = setup
    fleet = FakeFleet()
    pay = f"{cluster.wire_prefix}payments"
    fleet.counters[b1] = {("bytes_in", pay): 100}
    fleet.counters[b2] = {("bytes_in", pay): 1000}
    sampler = fleet.sampler()
    sampler.run_once()

    fleet.advance(5)
    fleet.down.add(b2)
    fleet.counters[b1] = {("bytes_in", pay): 600}
    fleet.counters[b2] = {("bytes_in", pay): 4000}  # counted while unreachable
    result = sampler.run_once()
    assert [t.url for t in result.unreachable] == [b2]
    assert Broker.objects.get(metrics_url=b2).state == Broker.State.DOWN
    assert Broker.objects.get(metrics_url=b1).state == Broker.State.UP
    doc = result.documents[cluster.pk]
    assert doc["partial"] is True
    assert doc["topics"]["payments"]["bytes_in_per_sec"] == pytest.approx(100.0)

    fleet.advance(5)
    fleet.down.clear()
    result = sampler.run_once()
    assert Broker.objects.get(metrics_url=b2).state == Broker.State.UP
    assert result.documents[cluster.pk]["partial"] is False
    # b2's 3000 bytes over the 10 s since its last answer.
    assert result.documents[cluster.pk]["topics"]["payments"]["bytes_in_per_sec"] == (
        pytest.approx(300.0)
    )
    total = sum(row[0] for row in usage(cluster).values())
    assert total == 500 + 3000


def test_rows_are_exact_across_a_sampler_restart_and_minutes(setup):
    cell, (b1, _b2, _b3), cluster, _ = setup
    fleet = FakeFleet()
    pay = f"{cluster.wire_prefix}payments"
    counter = 10_000
    fleet.counters[b1] = {("bytes_in", pay): counter, ("bytes_out", pay): 0}
    first = fleet.sampler()
    first.run_once()  # baseline
    for _ in range(3):
        fleet.advance(5)
        counter += 1000
        fleet.counters[b1] = {("bytes_in", pay): counter, ("bytes_out", pay): 0}
        first.run_once()
    assert SamplerCheckpoint.objects.get(cell=cell).counters["1"][f"bytes_in|{pay}"] == counter

    # The process dies; a new one starts in the same minute and resumes from the checkpoint.
    fleet.advance(5)
    counter += 1000  # produced while no sampler ran
    fleet.counters[b1] = {("bytes_in", pay): counter}
    second = fleet.sampler()
    resumed = second.run_once()
    assert resumed.documents == {}  # no rate from a checkpoint, but the delta is kept
    fleet.advance(5)
    counter += 1000
    fleet.counters[b1] = {("bytes_in", pay): counter}
    second.run_once()
    minute = START.replace(second=0)
    assert usage(cluster)[("payments", minute)][0] == 5000

    # Re-flushing changes nothing (SET semantics, no duplicate rows).
    second.flush(fleet.moment, second.targets(), {})
    assert usage(cluster)[("payments", minute)][0] == 5000

    # Next minute: a new row; the closed one stays final.
    fleet.advance(60)
    counter += 700
    fleet.counters[b1] = {("bytes_in", pay): counter}
    second.run_once()
    rows = usage(cluster)
    assert rows[("payments", minute)][0] == 5000
    assert rows[("payments", minute + dt.timedelta(minutes=1))][0] == 700
    assert TopicMinuteUsage.objects.filter(cluster=cluster).count() == 2


def test_deleted_clusters_get_no_rows_or_messages(setup):
    _cell, (b1, _b2, _b3), cluster, _ = setup
    Cluster.objects.filter(pk=cluster.pk).update(state=Cluster.State.DELETED)
    fleet = FakeFleet()
    pay = f"{cluster.wire_prefix}payments"
    fleet.counters[b1] = {("bytes_in", pay): 1}
    sampler = fleet.sampler()
    sampler.run_once()
    fleet.advance(5)
    fleet.counters[b1] = {("bytes_in", pay): 100}
    result = sampler.run_once()
    assert cluster.pk not in result.documents
    assert not TopicMinuteUsage.objects.filter(cluster=cluster).exists()
