"""The sampler's reader of the exporter's text (issue 20: a pass every second at 1,000 topics)
gives what prometheus_client's general parser gives, on recorded and generated answers and on
lines in forms the exporter does not write (other label order, spaces, escapes, timestamps)."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet.services.rates import (
    COUNTER_PREFIX,
    LOG_SIZE,
    METERS,
    BrokerMetrics,
    MetricsParseError,
    parse_broker_metrics,
)
from tests.fleet.metrics_texts import exporter_text, recorded


def reference(text: str) -> BrokerMetrics:
    """The same selection, read with prometheus_client's parser."""
    counters, sizes = {}, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            topic = sample.labels.get("topic")
            if not topic:
                continue
            name = sample.name.removesuffix("_total")
            if name.startswith(COUNTER_PREFIX):
                meter = METERS.get(name[len(COUNTER_PREFIX) :])
                if meter is not None:
                    counters[(meter, topic)] = round(sample.value)
            elif name == LOG_SIZE and sample.labels.get("partition", "").isdigit():
                sizes[(topic, int(sample.labels["partition"]))] = round(sample.value)
    return BrokerMetrics(counters=counters, log_sizes=sizes)


def thousand_topics() -> str:
    counters, sizes = {}, {}
    for i in range(1000):
        topic = f"acme.orders.t{i:05d}"
        sizes[(topic, i % 3)] = 1000 + i
        if i % 3 == 0:
            counters[("bytes_in", topic)] = 123_456_789_012 + i  # Java notation: 1.23E11
            counters[("messages_in", topic)] = i
            counters[("bytes_out", topic)] = 0
    return exporter_text(counters, sizes)


@pytest.mark.parametrize("name", ["broker_idle.prom", "broker_busy.prom"])
def test_recorded_answers_read_the_same(name):
    text = recorded(name)
    assert parse_broker_metrics(text) == reference(text)


def test_a_thousand_topics_read_the_same():
    text = thousand_topics()
    parsed = parse_broker_metrics(text)
    assert parsed == reference(text)
    assert len(parsed.log_sizes) == 1000 and len(parsed.counters) == 3 * 334


def test_other_forms_of_the_text_format_read_the_same():
    text = (
        "# TYPE kafka_server_brokertopicmetrics_bytesinpersec_total counter\n"
        "kafka_server_brokertopicmetrics_bytesinpersec_total"
        '{ topic = "a.b.c" , } 12.0 1700000000000\n'
        'kafka_server_brokertopicmetrics_messagesinpersec_total{topic="a.b.q\\"x"} 3\n'
        "# TYPE kafka_log_size_bytes gauge\n"
        'kafka_log_size_bytes{topic="a.b.c",partition="2"} 1.5E7\n'
        'kafka_log_size_bytes{partition="x",topic="a.b.c"} 9\n'
        "kafka_server_brokertopicmetrics_bytesinpersec_total 99.0\n"
        "jvm_buffer_pool_used_bytes{pool=\"mapped - 'non-volatile memory'\"} 0.0\n"
        "\n"
    )
    parsed = parse_broker_metrics(text)
    assert parsed == reference(text)
    assert parsed.counters == {("bytes_in", "a.b.c"): 12, ("messages_in", 'a.b.q"x'): 3}
    assert parsed.log_sizes == {("a.b.c", 2): 15_000_000}


@pytest.mark.parametrize(
    "junk",
    [
        'kafka_log_size_bytes{topic="x" 12\n<html>',
        "<html><body>Unauthorized</body></html>",
        'kafka_log_size_bytes{partition="0",topic="x"} twelve',
        'kafka_log_size_bytes{partition="0",topic=x} 1',
    ],
)
def test_junk_is_a_parse_error(junk):
    with pytest.raises(MetricsParseError):
        parse_broker_metrics(junk)
