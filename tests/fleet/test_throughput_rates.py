"""Rate and reset logic of the sampler on recorded exporter texts (no broker, no database)."""

import pytest

from fleet.services.rates import (
    READ_FAMILIES,
    CounterTracker,
    MetricsParseError,
    decode_counters,
    encode_counters,
    parse_broker_metrics,
    topic_storage,
)
from tests.fleet.metrics_texts import exporter_text, recorded

T = "acme.orders.payments"
U = "acme.orders.refunds"


def scrape(counters=None, sizes=None):
    return parse_broker_metrics(exporter_text(counters, sizes)).counters


def test_recorded_idle_broker_has_log_sizes_and_no_topic_counters():
    parsed = parse_broker_metrics(recorded("broker_idle.prom"))
    # Broker-wide totals (no topic label), JVM and exporter metrics are not topic series.
    assert parsed.counters == {}
    assert parsed.log_sizes[("acme.demo.orders", 1)] == 86
    assert parsed.log_sizes[("__cluster_metadata", 0)] == 83004
    assert ("bob.tc02379", 0) in parsed.log_sizes


def test_recorded_busy_broker_counters_in_java_notation_are_exact():
    # Recorded by tests/clusters/test_sampler_integration.py (SKIFF_RECORD_METRICS=1) on a
    # follower of the busy partition: it has a bytes-out meter (zero) and the replica's size.
    parsed = parse_broker_metrics(recorded("broker_busy.prom"))
    assert parsed.counters == {("bytes_out", "s0a631224.metered.events"): 0}
    assert parsed.log_sizes[("s0a631224.metered.events", 0)] == 1227696
    for (meter, topic), value in parsed.counters.items():
        assert meter in {"bytes_in", "bytes_out", "messages_in"}
        assert isinstance(value, int) and value >= 0
        assert topic
    big = parse_broker_metrics(exporter_text({("bytes_in", T): 123_456_789_012}))
    assert big.counters[("bytes_in", T)] == 123_456_789_012


def only_families(text: str, families) -> str:
    """The exporter's answer to `?name[]=…`: the lines of those families (counters as `_total`)."""

    def family(line: str) -> str:
        name = line.split()[2] if line.startswith("#") else line.split("{")[0].split()[0]
        return name.removesuffix("_total")

    return "".join(line for line in text.splitlines(True) if family(line) in families)


@pytest.mark.parametrize("name", ["broker_idle.prom", "broker_busy.prom"])
def test_the_families_the_sampler_asks_for_are_all_that_the_parser_reads(name):
    full = recorded(name)
    asked = only_families(full, READ_FAMILIES)
    assert len(asked) < len(full)  # exporter, JVM and broker-health families are left out
    assert parse_broker_metrics(asked) == parse_broker_metrics(full)
    assert not any(f.startswith(("jvm_", "process_", "jmx_")) for f in READ_FAMILIES)


def test_junk_is_a_parse_error():
    with pytest.raises(MetricsParseError):
        parse_broker_metrics('kafka_log_size_bytes{topic="x" 12\n<html>')


def test_first_sample_gives_no_delta_and_no_rate():
    tracker = CounterTracker()
    first = tracker.observe("b1", 100.0, scrape({("bytes_in", T): 5000}))
    assert first.first_sample and not first.rated
    assert first.deltas == {} and first.rates == {}

    second = tracker.observe("b1", 105.0, scrape({("bytes_in", T): 6000}))
    assert not second.first_sample and second.rated
    assert second.deltas == {("bytes_in", T): 1000}
    assert second.rates == {("bytes_in", T): pytest.approx(200.0)}


def test_broker_restart_is_a_reset_never_a_negative_rate():
    tracker = CounterTracker()
    tracker.observe("b1", 0.0, scrape({("bytes_in", T): 900_000, ("messages_in", T): 900}))
    # The broker restarted: its meters start again from zero and counted 300 bytes since.
    after = tracker.observe("b1", 5.0, scrape({("bytes_in", T): 300, ("messages_in", T): 3}))
    assert after.deltas == {("bytes_in", T): 300, ("messages_in", T): 3}
    assert after.rates[("bytes_in", T)] == pytest.approx(60.0)
    assert all(v >= 0 for v in after.deltas.values())
    # …and counting continues from the new base.
    later = tracker.observe("b1", 10.0, scrape({("bytes_in", T): 800, ("messages_in", T): 8}))
    assert later.deltas == {("bytes_in", T): 500, ("messages_in", T): 5}


def test_leadership_move_between_brokers():
    tracker = CounterTracker()
    tracker.observe("b1", 0.0, scrape({("bytes_in", T): 10_000}))
    tracker.observe("b2", 0.0, scrape({}))
    # b1 stops leading the topic: its series disappears; b2 becomes leader and counts from zero.
    on_b1 = tracker.observe("b1", 5.0, scrape({}))
    on_b2 = tracker.observe("b2", 5.0, scrape({("bytes_in", T): 700}))
    assert on_b1.deltas == {} and on_b1.rates == {}  # absence is not a drop to zero
    assert on_b2.deltas == {("bytes_in", T): 700}  # a new series: all of it is new traffic
    assert on_b2.rates[("bytes_in", T)] == pytest.approx(140.0)
    # Leadership comes back to b1: its meter was recreated, lower than the last value seen.
    back = tracker.observe("b1", 10.0, scrape({("bytes_in", T): 250}))
    assert back.deltas == {("bytes_in", T): 250}
    # Total counted = 700 + 250, nothing negative, nothing counted twice.


def test_missing_broker_keeps_its_last_values_and_the_gap_is_carried_by_the_next_delta():
    tracker = CounterTracker()
    tracker.observe("b1", 0.0, scrape({("bytes_in", T): 1000, ("bytes_in", U): 10}))
    # b1 did not answer at t=5 and t=10 (the sampler does not call observe for it).
    back = tracker.observe("b1", 15.0, scrape({("bytes_in", T): 4000, ("bytes_in", U): 10}))
    assert back.deltas == {("bytes_in", T): 3000, ("bytes_in", U): 0}
    assert back.rates[("bytes_in", T)] == pytest.approx(200.0)  # averaged over the gap


def test_series_missing_from_one_scrape_is_not_zero():
    tracker = CounterTracker()
    tracker.observe("b1", 0.0, scrape({("bytes_in", T): 1000, ("bytes_in", U): 500}))
    partial = tracker.observe("b1", 5.0, scrape({("bytes_in", T): 1100}))
    assert partial.deltas == {("bytes_in", T): 100}
    again = tracker.observe("b1", 10.0, scrape({("bytes_in", T): 1200, ("bytes_in", U): 600}))
    assert again.deltas == {("bytes_in", T): 100, ("bytes_in", U): 100}


def test_restore_from_checkpoint_gives_deltas_but_no_rate():
    tracker = CounterTracker()
    tracker.observe("b1", 0.0, scrape({("bytes_in", T): 1000}))
    saved = decode_counters(encode_counters(tracker.checkpoint("b1")))
    assert saved == {("bytes_in", T): 1000}

    restarted = CounterTracker()
    restarted.restore("b1", saved)
    first = restarted.observe("b1", 50.0, scrape({("bytes_in", T): 1800, ("bytes_in", U): 40}))
    assert first.deltas == {("bytes_in", T): 800, ("bytes_in", U): 40}
    assert first.rates == {} and not first.rated
    second = restarted.observe("b1", 55.0, scrape({("bytes_in", T): 1900, ("bytes_in", U): 40}))
    assert second.rates[("bytes_in", T)] == pytest.approx(20.0)


def test_decode_ignores_foreign_keys():
    assert decode_counters({"bytes_in|a.b.c": 5, "junk": 1, "nope|a.b.c": 2}) == {
        ("bytes_in", "a.b.c"): 5
    }


def test_storage_is_the_largest_replica_of_each_partition_summed():
    b1 = parse_broker_metrics(exporter_text(sizes={(T, 0): 1000, (T, 1): 500})).log_sizes
    b2 = parse_broker_metrics(exporter_text(sizes={(T, 0): 990, (U, 0): 70})).log_sizes
    b3 = parse_broker_metrics(exporter_text(sizes={(T, 1): 510, (U, 0): 70})).log_sizes
    assert topic_storage([b1, b2, b3]) == {T: 1000 + 510, U: 70}
    assert topic_storage([]) == {}


def test_series_of_topics_a_broker_no_longer_hosts_are_forgotten():
    tracker = CounterTracker()
    tracker.observe("b1", 0.0, scrape({("bytes_in", T): 5000}), hosted_topics={T})
    # Still hosting a replica (a follower now): the series is kept, absence is not zero.
    tracker.observe("b1", 5.0, scrape({}), hosted_topics={T})
    assert tracker.checkpoint("b1") == {("bytes_in", T): 5000}
    # The topic was deleted (or moved off this broker): nothing of it is kept…
    tracker.observe("b1", 10.0, scrape({}), hosted_topics=set())
    assert tracker.checkpoint("b1") == {}
    # …and a topic of the same name created later counts from zero.
    again = tracker.observe("b1", 15.0, scrape({("bytes_in", T): 9000}), hosted_topics={T})
    assert again.deltas == {("bytes_in", T): 9000}
