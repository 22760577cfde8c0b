"""Broker metrics → per-topic deltas and rates. Pure: no I/O, no Django, no clock.

Input is the Prometheus text each broker serves: in the platform's cells its own per-topic
endpoint (io.skiff.metrics.TopicMetricsEndpoint in fleet/policy/, issue 20), elsewhere its JMX
exporter with Skiff's rules (fleet/config/jmx-exporter.yaml); the same names and labels:

    kafka_server_brokertopicmetrics_bytesinpersec_total{topic="acme.orders.payments"} 1234.0
    kafka_log_size_bytes{partition="0",topic="acme.orders.payments"} 5678.0

The per-topic counters are cumulative per (broker, topic) series and reset to zero when the
broker restarts, and disappear when the broker stops leading any partition of the topic (they
come back from zero if it leads one again). `CounterTracker` turns successive scrapes into
non-negative deltas:

* a value lower than the previous one is a reset: the delta is the new value, never negative;
* a series missing from a scrape keeps its last value (absence is not a drop to zero);
* the first scrape of a broker gives no delta and no rate (nothing to compare with), except
  after `restore` from a checkpoint, which gives deltas (no bytes lost across a sampler
  restart) but still no rate (the checkpoint's time is not a sampling interval);
* a series that appears on a broker already sampled is new since the last scrape: its whole
  value is the delta.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

# Exporter meter name → our key. Order is the order of the document's keys.
METERS: dict[str, str] = {
    "bytesinpersec": "bytes_in",
    "bytesoutpersec": "bytes_out",
    "messagesinpersec": "messages_in",
}
METER_KEYS: tuple[str, ...] = tuple(METERS.values())
COUNTER_PREFIX = "kafka_server_brokertopicmetrics_"
LOG_SIZE = "kafka_log_size_bytes"
# Every metric family `parse_broker_metrics` reads (counters without their `_total` suffix):
# the sampler asks the exporter for these only.
READ_FAMILIES: tuple[str, ...] = (*(COUNTER_PREFIX + meter for meter in METERS), LOG_SIZE)

SeriesKey = tuple[str, str]  # (meter key, wire topic name)


class MetricsParseError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerMetrics:
    """What one scrape of one broker says about topics."""

    counters: dict[SeriesKey, int] = field(default_factory=dict)
    # (wire topic, partition) → bytes on this broker's disk for that replica.
    log_sizes: dict[tuple[str, int], int] = field(default_factory=dict)

    @cached_property
    def hosted_topics(self) -> frozenset[str]:
        """The topics this broker has a log for (computed once per parsed answer)."""
        return frozenset(topic for topic, _partition in self.log_sizes)

    @cached_property
    def counted_topics(self) -> frozenset[str]:
        """The topics this broker has counters for (computed once per parsed answer)."""
        return frozenset(topic for _meter, topic in self.counters)


# One sample line of the text format: name, optional {labels}, value, optional timestamp.
_SAMPLE_LINE = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^{}]*)\})?[ \t]+(\S+)(?:[ \t]+-?[0-9]+)?[ \t]*"
)
_LABELS = re.compile(r'(?:[ \t]*[a-zA-Z_]\w*[ \t]*=[ \t]*"(?:[^"\\]|\\.)*"[ \t]*,?)*[ \t]*')
_LABEL = re.compile(r'([a-zA-Z_]\w*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"')
# The exporter's own lines for the families read (labels in its order): one match, no label
# parsing. Any other line takes the general path.
_EXPORTER_LINE = re.compile(
    r'(?:kafka_log_size_bytes\{partition="([0-9]+)",topic="([^"\\]+)",?\}'
    r'|(kafka_server_brokertopicmetrics_[a-z]+?)(?:_total)?\{topic="([^"\\]+)",?\}) (\S+)'
)
# Sample name (a counter with or without its `_total` suffix) → meter key, or LOG_SIZE.
_READ_NAMES: dict[str, str] = {
    **{
        f"{COUNTER_PREFIX}{name}{suffix}": meter
        for name, meter in METERS.items()
        for suffix in ("", "_total")
    },
    LOG_SIZE: LOG_SIZE,
}


def _labels(text: str, line: str) -> dict[str, str]:
    if _LABELS.fullmatch(text) is None:
        raise MetricsParseError(f"not Prometheus text: bad labels in {line[:200]!r}")
    labels = dict(_LABEL.findall(text))
    if "\\" in text:
        for key, value in labels.items():
            labels[key] = value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    return labels


def parse_broker_metrics(text: str) -> BrokerMetrics:
    """Parse the exporter's text; keep what the sampler uses.

    A line-by-line reader of the text format that checks every sample line and reads the
    labels and value of the families the sampler uses only: at a pass per second over 1,000
    topics, prometheus_client's general parser cost about 40 ms of CPU per broker answer, this
    about a tenth of that (issue 20). Comments (# HELP, # TYPE) are skipped.
    """
    counters: dict[SeriesKey, int] = {}
    log_sizes: dict[tuple[str, int], int] = {}
    match_line, match_exporter = _SAMPLE_LINE.fullmatch, _EXPORTER_LINE.fullmatch
    for line in text.split("\n"):
        if not line or line[0] == "#" or line.isspace():
            continue
        fast = match_exporter(line)
        if fast is not None:
            partition, size_topic, counter, counter_topic, raw = fast.groups()
            try:
                value = float(raw)
            except ValueError:
                raise MetricsParseError(f"not Prometheus text: {line[:200]!r}") from None
            if counter is None:
                log_sizes[(size_topic, int(partition))] = _count(value)
                continue
            meter = _READ_NAMES.get(counter)
            if meter is not None and meter != LOG_SIZE:
                counters[(meter, counter_topic)] = _count(value)
                continue
        found = match_line(line)
        if found is None:
            raise MetricsParseError(f"not Prometheus text: {line[:200]!r}")
        name, label_text, raw = found.groups()
        kind = _READ_NAMES.get(name)
        if kind is None or not label_text:
            continue  # broker-wide totals, JVM and exporter metrics
        try:
            value = float(raw)
        except ValueError:
            raise MetricsParseError(f"not Prometheus text: {line[:200]!r}") from None
        labels = _labels(label_text, line)
        topic = labels.get("topic")
        if not topic:
            continue
        if kind != LOG_SIZE:
            counters[(kind, topic)] = _count(value)
            continue
        try:
            partition = int(labels["partition"])
        except (KeyError, ValueError):
            continue
        log_sizes[(topic, partition)] = _count(value)
    return BrokerMetrics(counters=counters, log_sizes=log_sizes)


def _count(value: float) -> int:
    # JMX Count/Value attributes are longs, exported as floats ("1.234E7"): exact below 2**53.
    if value != value or value < 0:  # NaN or negative: not a counter value
        return 0
    return round(value)


@dataclass
class _BrokerState:
    values: dict[SeriesKey, int] = field(default_factory=dict)
    # Time (seconds, any monotonic origin) of the last live scrape; None after `restore`.
    at: float | None = None
    seen: bool = False  # any previous scrape or a checkpoint to compare with
    # The counters and hosted topics of the last observation, by identity: the sampler hands
    # back the very same objects for an answer byte for byte the same as the previous one.
    last_counters: Mapping[SeriesKey, int] | None = None
    last_hosted: Iterable[str] | None = None


@dataclass
class Observation:
    """The result of one broker's scrape: deltas for metering, rates for the live view."""

    deltas: dict[SeriesKey, int] = field(default_factory=dict)
    rates: dict[SeriesKey, float] = field(default_factory=dict)
    first_sample: bool = False
    rated: bool = False  # an interval since the previous live scrape exists: rates are known
    # The very same counters as the previous observation: every delta and rate is zero.
    unchanged: bool = False


class CounterTracker:
    """Per (broker, meter, topic) cumulative counters → deltas and rates, with reset handling."""

    def __init__(self) -> None:
        self._brokers: dict[Hashable, _BrokerState] = {}

    def knows(self, broker: Hashable) -> bool:
        state = self._brokers.get(broker)
        return state is not None and state.seen

    def restore(self, broker: Hashable, counters: Mapping[SeriesKey, int]) -> None:
        """Resume from a checkpoint: the next scrape gives deltas against it, but no rates."""
        self._brokers[broker] = _BrokerState(values=dict(counters), at=None, seen=True)

    def observe(
        self,
        broker: Hashable,
        at: float,
        counters: Mapping[SeriesKey, int],
        hosted_topics: Iterable[str] | None = None,
    ) -> Observation:
        """Account one scrape of `broker` taken at `at` (seconds, monotonic).

        `hosted_topics` (the topics the broker has a log for) lets the tracker forget series of
        topics the broker no longer hosts at all (deleted or moved away): the broker cannot
        lead them, so their meters are gone, and a later meter counts from zero.
        """
        state = self._brokers.setdefault(broker, _BrokerState())
        result = Observation(first_sample=not state.seen)
        interval = (at - state.at) if state.at is not None else None
        result.rated = interval is not None and interval > 0
        if (
            state.seen
            and state.last_counters is counters
            and state.last_hosted is hosted_topics
            and hosted_topics is not None
        ):
            # The same answer as last time (a quiet broker): nothing moved, nothing to forget.
            result.unchanged = True
            result.deltas = dict.fromkeys(counters, 0)
            if result.rated:
                result.rates = dict.fromkeys(counters, 0.0)
            state.at = at
            return result
        for key, value in counters.items():
            if state.seen:
                previous = state.values.get(key)
                # A new series, or a reset (lower than before): it counted up from zero.
                delta = value if previous is None or value < previous else value - previous
                result.deltas[key] = delta
                if interval is not None and interval > 0:
                    result.rates[key] = delta / interval
            state.values[key] = value
        # Series missing from this scrape keep their last value in `state.values`…
        if hosted_topics is not None:
            # …unless the broker holds no replica of the topic any more.
            keep = set(hosted_topics) | {topic for _meter, topic in counters}
            for key in [k for k in state.values if k[1] not in keep]:
                del state.values[key]
        state.at = at
        state.seen = True
        state.last_counters, state.last_hosted = counters, hosted_topics
        return result

    def forget(self, broker: Hashable) -> None:
        self._brokers.pop(broker, None)

    def checkpoint(self, broker: Hashable) -> dict[SeriesKey, int]:
        state = self._brokers.get(broker)
        return dict(state.values) if state is not None and state.seen else {}


def encode_counters(counters: Mapping[SeriesKey, int]) -> dict[str, int]:
    """Checkpoint form: {"bytes_in|topic": value}. '|' never occurs in a Kafka topic name."""
    return {f"{meter}|{topic}": value for (meter, topic), value in counters.items()}


def decode_counters(encoded: Mapping[str, int]) -> dict[SeriesKey, int]:
    decoded: dict[SeriesKey, int] = {}
    for key, value in encoded.items():
        meter, sep, topic = key.partition("|")
        if sep and meter in METER_KEYS and topic:
            decoded[(meter, topic)] = int(value)
    return decoded


def topic_storage(log_sizes_by_broker: Iterable[Mapping[tuple[str, int], int]]) -> dict[str, int]:
    """Logical size of each topic: per partition the largest replica, summed over partitions.

    Replicas of a partition hold the same records (the leader may be a few bytes ahead), so the
    largest replica is the partition's size; counting every replica would bill the replication
    factor, which the service does not charge for.
    """
    partitions: dict[tuple[str, int], int] = {}
    for sizes in log_sizes_by_broker:
        for key, size in sizes.items():
            if size > partitions.get(key, -1):
                partitions[key] = size
    topics: dict[str, int] = {}
    for (topic, _partition), size in partitions.items():
        topics[topic] = topics.get(topic, 0) + size
    return topics
