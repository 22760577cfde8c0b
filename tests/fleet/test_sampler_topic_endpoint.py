"""The sampler reads each broker's own per-topic endpoint (issue 20), the exporter where a broker
has none or its endpoint refuses; a quiet broker's repeated answer is not parsed again."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from fleet.models import Broker, TopicMinuteUsage
from fleet.services import sampler as sampler_module
from fleet.services.rates import CounterTracker, parse_broker_metrics
from fleet.services.sampler import Sampler
from tests.factories import CellFactory, ClusterFactory, TeamFactory
from tests.fleet.metrics_texts import exporter_text

START = dt.datetime(2026, 3, 1, 12, 0, 10, tzinfo=dt.UTC)


class Endpoints:
    """Answers by URL; a URL in `refusing` refuses the connection like a closed port."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.refusing: set[str] = set()
        self.asked: list[str] = []
        self.t = 0.0
        self.moment = START

    def fetch(self, url: str, timeout: float) -> str:
        self.asked.append(url.split("?", 1)[0])
        if url.split("?", 1)[0] in self.refusing:
            raise ConnectionRefusedError(111, "Connection refused")
        return self.texts[url.split("?", 1)[0]]

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.moment += dt.timedelta(seconds=seconds)

    def sampler(self) -> Sampler:
        return Sampler(timeout=1.0, fetch=self.fetch, clock=lambda: self.t, now=lambda: self.moment)


EXPORTER = "http://h:7071/metrics"
ENDPOINT = "http://h:7072/metrics"


@pytest.fixture
def broker(db):
    cell = CellFactory()
    team = TeamFactory(slug=f"t{uuid.uuid4().hex[:8]}")
    cluster = ClusterFactory(team=team, name="orders", cell=cell)
    row = Broker.objects.create(
        cell=cell,
        node_id=1,
        host="h",
        port=0,
        metrics_url=EXPORTER,
        topic_metrics_url=ENDPOINT,
    )
    return row, cluster


def test_the_endpoint_is_read_and_the_exporter_is_not(broker) -> None:
    _row, cluster = broker
    topic = f"{cluster.wire_prefix}pay"
    fake = Endpoints()
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 100}, {(topic, 0): 10})
    fake.texts[EXPORTER] = "should not be read"
    sampler = fake.sampler()
    [target] = sampler.targets()
    assert (target.url, target.fallback_url) == (ENDPOINT, EXPORTER)
    sampler.run_once()
    fake.advance(1)
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 300}, {(topic, 0): 10})
    outcome = sampler.run_once()
    assert set(fake.asked) == {ENDPOINT}
    assert outcome.documents[cluster.pk]["topics"]["pay"]["bytes_in_per_sec"] == 200.0


def test_a_broker_without_the_endpoint_is_read_through_its_exporter(broker) -> None:
    row, _cluster = broker
    Broker.objects.filter(pk=row.pk).update(topic_metrics_url="")
    fake = Endpoints()
    fake.texts[EXPORTER] = exporter_text({}, {})
    sampler = fake.sampler()
    [target] = sampler.targets()
    assert (target.url, target.fallback_url) == (EXPORTER, "")
    assert not sampler.run_once().unreachable
    assert fake.asked == [EXPORTER]


def test_a_refusing_endpoint_falls_back_to_an_exporter_with_the_series(broker) -> None:
    """A node still running from before the endpoint existed: its exporter has the series."""
    row, cluster = broker
    topic = f"{cluster.wire_prefix}pay"
    fake = Endpoints()
    fake.refusing.add(ENDPOINT)
    fake.texts[EXPORTER] = exporter_text({("messages_in", topic): 5}, {(topic, 0): 10})
    outcome = fake.sampler().run_once()
    assert not outcome.unreachable
    assert fake.asked == [ENDPOINT, EXPORTER]
    row.refresh_from_db()
    assert row.last_scrape_error == ""


def test_a_refusing_endpoint_with_an_exporter_without_the_series_is_a_failed_scrape(
    broker,
) -> None:
    """The platform's exporters leave the per-topic series out: their answer must not read as
    "every topic is gone" (storage 0 in the minute rows); the last sizes are kept instead."""
    row, cluster = broker
    topic = f"{cluster.wire_prefix}pay"
    fake = Endpoints()
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 1}, {(topic, 0): 4096})
    sampler = fake.sampler()
    sampler.run_once()
    fake.advance(1)
    fake.refusing.add(ENDPOINT)
    fake.texts[EXPORTER] = exporter_text({}, {})  # broker-wide totals only
    outcome = sampler.run_once()
    assert [t.pk for t in outcome.unreachable] == [row.pk]
    row.refresh_from_db()
    assert "serves no per-topic series" in row.last_scrape_error
    storage = TopicMinuteUsage.objects.filter(cluster=cluster, topic="pay").values_list(
        "storage_bytes", flat=True
    )
    assert set(storage) == {4096}


def test_a_quiet_brokers_same_answer_is_parsed_once_and_counts_the_same(
    broker, monkeypatch
) -> None:
    _row, cluster = broker
    topic = f"{cluster.wire_prefix}pay"
    parsed: list[int] = []
    real_parse = sampler_module.parse_broker_metrics

    def counting_parse(text: str):
        parsed.append(1)
        return real_parse(text)

    monkeypatch.setattr(sampler_module, "parse_broker_metrics", counting_parse)
    fake = Endpoints()
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 100}, {(topic, 0): 10})
    sampler = fake.sampler()
    documents = []
    for _ in range(4):
        documents.append(sampler.run_once().documents)
        fake.advance(1)
    assert len(parsed) == 1, "the same bytes were parsed again"
    assert documents[1][cluster.pk]["topics"]["pay"]["bytes_in_per_sec"] == 0.0
    assert documents[1][cluster.pk]["topics"]["pay"] == documents[3][cluster.pk]["topics"]["pay"]
    # Traffic again: parsed (the changed lines only), and counted from the last value.
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 150}, {(topic, 0): 60})
    outcome = sampler.run_once()
    assert len(parsed) > 1
    assert outcome.documents[cluster.pk]["topics"]["pay"]["bytes_in_per_sec"] == 50.0
    assert outcome.documents[cluster.pk]["topics"]["pay"]["storage_bytes"] == 60


def test_the_trackers_shortcut_gives_what_the_full_comparison_gives() -> None:
    counters = {("bytes_in", "a.b.c"): 10, ("messages_in", "a.b.c"): 2}
    hosted = frozenset({"a.b.c"})
    fast, slow = CounterTracker(), CounterTracker()
    fast.observe("b", 0.0, counters, hosted)
    slow.observe("b", 0.0, counters, hosted)
    same = fast.observe("b", 1.0, counters, hosted)  # the very same objects: the shortcut
    full = slow.observe("b", 1.0, dict(counters), set(hosted))  # equal copies: the full path
    assert (same.deltas, same.rates, same.rated) == (full.deltas, full.rates, full.rated)
    assert fast.checkpoint("b") == slow.checkpoint("b")


def test_a_quiet_cell_reuses_its_documents_and_still_writes_each_minutes_storage(broker) -> None:
    """Passes that see the same answers reuse the last documents (with their own time); a new
    minute is computed again, so its row holds the storage gauge (billing reads it)."""
    _row, cluster = broker
    topic = f"{cluster.wire_prefix}pay"
    fake = Endpoints()
    fake.moment = START.replace(second=50)
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 100}, {(topic, 0): 2048})
    sampler = fake.sampler()
    documents = []
    for _ in range(15):  # 12:00:50 … 12:01:04; the first pass has no rates (no document)
        documents.append(sampler.run_once().documents.get(cluster.pk))
        fake.advance(1)
    computed, reused = documents[1], documents[2]
    assert reused["ts"] != computed["ts"]
    assert {**reused, "ts": ""} == {**computed, "ts": ""}
    assert reused["topics"] is computed["topics"], "the quiet pass computed it again"
    assert computed["topics"]["pay"] == {
        "bytes_in_per_sec": 0.0,
        "bytes_out_per_sec": 0.0,
        "messages_in_per_sec": 0.0,
        "storage_bytes": 2048,
    }
    sampler.flush_pending()
    minutes = dict(
        TopicMinuteUsage.objects.filter(cluster=cluster, topic="pay").values_list(
            "minute", "storage_bytes"
        )
    )
    assert minutes == {START.replace(second=0): 2048, START.replace(minute=1, second=0): 2048}
    # Then traffic: computed again, with its rate.
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 400}, {(topic, 0): 2348})
    moved = sampler.run_once().documents[cluster.pk]["topics"]["pay"]
    assert (moved["bytes_in_per_sec"], moved["storage_bytes"]) == (300.0, 2348)


def test_a_quiet_cell_writes_its_checkpoint_once(broker, django_assert_max_num_queries) -> None:
    from fleet.models import SamplerCheckpoint

    _row, cluster = broker
    topic = f"{cluster.wire_prefix}pay"
    fake = Endpoints()
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 100}, {(topic, 0): 10})
    sampler = fake.sampler()
    sampler.run_once()
    first = SamplerCheckpoint.objects.get(cell_id=cluster.cell_id).taken_at
    fake.advance(1)
    sampler.run_once()
    assert SamplerCheckpoint.objects.get(cell_id=cluster.cell_id).taken_at == first
    fake.texts[ENDPOINT] = exporter_text({("bytes_in", topic): 101}, {(topic, 0): 10})
    fake.advance(1)
    sampler.run_once()
    checkpoint = SamplerCheckpoint.objects.get(cell_id=cluster.cell_id)
    assert checkpoint.taken_at > first
    assert checkpoint.counters == {"1": {f"bytes_in|{topic}": 101}}


def test_parsing_only_the_changed_lines_gives_what_a_full_parse_gives() -> None:
    """Series that move, appear and disappear between answers, in the exporter's text and in
    the endpoint's: the cache's result is always the full parse's."""
    rng = random.Random(20)
    topics = [f"acme.orders.t{i}" for i in range(60)]
    counters = {(m, t): rng.randrange(1000) for t in topics for m in ("bytes_in", "bytes_out")}
    sizes = {(t, p): rng.randrange(10_000) for t in topics for p in range(2)}
    cache = sampler_module._ParseCache()
    for step in range(40):
        for key in rng.sample(sorted(counters), 3):
            counters[key] += rng.randrange(1, 500)
        if step % 5 == 1:  # a topic goes away (deleted, or led elsewhere)
            gone = rng.choice(topics)
            counters = {k: v for k, v in counters.items() if k[1] != gone}
            sizes = {k: v for k, v in sizes.items() if k[0] != gone}
        if step % 7 == 3:  # a topic appears
            new = f"acme.orders.n{step}"
            counters[("messages_in", new)] = 1
            sizes[(new, 0)] = 5
        text = exporter_text(counters, sizes)
        if step >= 20:  # the endpoint's shape (integers) from half-way
            text = text.replace(".0\n", "\n")
        assert cache.parse(1, text) == parse_broker_metrics(text), f"step {step}"
    assert cache.partial >= 35


class DeltaEndpoint:
    """The per-topic endpoint's `since` protocol (io.skiff.metrics.TopicMetricsEndpoint), in
    memory: a full answer without a token it gave, else the changed series and the removed."""

    def __init__(self) -> None:
        self.series: dict[str, int] = {}  # "name{labels}" -> value
        self.changed_at: dict[str, int] = {}
        self.removed: list[tuple[str, int]] = []
        self.generation = 0
        self.asked: list[str] = []

    def set(self, values: dict[str, int]) -> None:
        for gone in self.series.keys() - values.keys():
            self.removed.append((gone, self.generation + 1))
            self.changed_at.pop(gone)
        self.series = dict(values)

    def fetch(self, url: str, timeout: float) -> str:
        self.asked.append(url)
        since = dict(
            pair.split("=", 1) for pair in url.partition("?")[2].split("&") if "=" in pair
        ).get("since")
        self.generation += 1
        for name in self.series:
            self.changed_at.setdefault(name, self.generation)
        last = getattr(self, "_last", {})
        for name, value in self.series.items():
            if last.get(name) != value:
                self.changed_at[name] = self.generation
        self._last = dict(self.series)
        delta = since is not None and since.startswith("e.")
        start = int(since[2:]) if delta else -1
        lines = [
            f"{name} {value}"
            for name, value in self.series.items()
            if not delta or self.changed_at[name] > start
        ]
        if delta:
            lines += [f"# REMOVED {name} 0" for name, at in self.removed if at > start]
        text = sampler_module.MetricsText("# TYPE x counter\n" + "\n".join(lines) + "\n")
        text.token, text.delta = f"e.{self.generation}", delta
        return text

    def full_text(self) -> str:
        return "\n".join(f"{name} {value}" for name, value in self.series.items()) + "\n"


def _series(counters: dict[tuple[str, str], int], sizes: dict[tuple[str, int], int]) -> dict:
    families = {
        "bytes_in": "kafka_server_brokertopicmetrics_bytesinpersec_total",
        "bytes_out": "kafka_server_brokertopicmetrics_bytesoutpersec_total",
        "messages_in": "kafka_server_brokertopicmetrics_messagesinpersec_total",
    }
    out = {f'{families[m]}{{topic="{t}"}}': v for (m, t), v in counters.items()}
    out |= {
        f'kafka_log_size_bytes{{partition="{p}",topic="{t}"}}': v for (t, p), v in sizes.items()
    }
    return out


def test_answers_since_a_token_give_what_full_answers_give() -> None:
    """The sampler sends the token of the answer its last result came from; the deltas,
    applied, are always the full answer's parse, and a quiet broker's result is the same
    object (which the counter tracker recognises)."""
    rng = random.Random(21)
    topics = [f"acme.orders.t{i}" for i in range(40)]
    counters = {(m, t): rng.randrange(1000) for t in topics for m in ("bytes_in", "messages_in")}
    sizes = {(t, 0): rng.randrange(10_000) for t in topics}
    endpoint = DeltaEndpoint()
    cache = sampler_module._ParseCache()
    target = sampler_module.BrokerTarget(1, 1, 1, ENDPOINT, "UP", None, fallback_url=EXPORTER)
    last = None
    for step in range(30):
        if step % 3 == 0:
            for key in rng.sample(sorted(counters), 2):
                counters[key] += rng.randrange(1, 500)
        if step % 7 == 2:  # deleted
            gone = rng.choice(sorted({t for _, t in counters}))
            counters = {k: v for k, v in counters.items() if k[1] != gone}
            sizes = {k: v for k, v in sizes.items() if k[0] != gone}
        if step % 9 == 4:  # created (and one deleted before comes back)
            counters[("messages_in", f"acme.orders.n{step % 2}")] = step
        endpoint.set(_series(counters, sizes))
        [result] = sampler_module.scrape_brokers(
            [target], timeout=1.0, fetch=endpoint.fetch, parse=cache.parse, since=cache.since
        )
        assert result.ok, result.error
        assert result.metrics == parse_broker_metrics(endpoint.full_text()), f"step {step}"
        if step % 3 and step % 7 != 2 and step % 9 != 4:
            assert result.metrics is last, f"step {step}: nothing moved, the same object"
        last = result.metrics
    assert "since=" not in endpoint.asked[0]
    assert all(f"since=e.{n}" in url for n, url in enumerate(endpoint.asked[1:], start=1))
    assert cache.deltas == 29


def test_a_delta_answer_without_a_result_before_it_is_a_failed_scrape() -> None:
    cache = sampler_module._ParseCache()
    text = sampler_module.MetricsText("# TYPE x counter\n")
    text.token, text.delta = "e.2", True
    with pytest.raises(sampler_module.MetricsParseError):
        cache.parse(7, text)
    assert cache.since(7) == ""


def test_the_token_is_sent_only_to_the_broker_that_gave_it() -> None:
    assert sampler_module.url_since(ENDPOINT, "") == ENDPOINT
    assert sampler_module.url_since(ENDPOINT, "ab.3") == ENDPOINT + "?since=ab.3"
    assert sampler_module.url_since(ENDPOINT + "?since=ab.1&x=1", "ab.3") == (
        ENDPOINT + "?x=1&since=ab.3"
    )


def test_in_a_cell_where_one_tenant_moves_the_others_documents_stay_right(broker) -> None:
    """Only the moving cluster's document is computed again; a still cluster's is its last one
    with the pass's time, until its own inputs change (here its storage)."""
    _row, moving = broker
    still = ClusterFactory(team=TeamFactory(slug=f"s{uuid.uuid4().hex[:8]}"), cell=moving.cell)
    busy, idle = f"{moving.wire_prefix}pay", f"{still.wire_prefix}logs"
    fake = Endpoints()
    sampler = fake.sampler()

    def answer(busy_bytes: int, idle_size: int) -> None:
        fake.texts[ENDPOINT] = exporter_text(
            {("bytes_in", busy): busy_bytes, ("bytes_in", idle): 7},
            {(busy, 0): busy_bytes, (idle, 0): idle_size},
        )

    documents = []
    for n, (busy_bytes, idle_size) in enumerate([(100, 50), (200, 50), (300, 50), (400, 80)]):
        answer(busy_bytes, idle_size)
        documents.append(sampler.run_once().documents)
        fake.advance(1)
        assert n == 0 or documents[n][moving.pk]["topics"]["pay"]["bytes_in_per_sec"] == 100.0
    first, second, third = (documents[i][still.pk] for i in (1, 2, 3))
    assert second["ts"] != first["ts"] and {**second, "ts": ""} == {**first, "ts": ""}
    assert second["topics"] is first["topics"], "a still cluster's document was computed again"
    # Its storage grew: computed again, with the new size.
    assert third["topics"]["logs"]["storage_bytes"] == 80
    assert third["cluster"]["storage_bytes"] == 80
    assert third["topics"]["logs"]["bytes_in_per_sec"] == 0.0
