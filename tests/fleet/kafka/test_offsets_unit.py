"""How one partition's failed ListOffsets answer is treated in a bulk read (no cell needed: the
futures carry the errors librdkafka gives; the reads themselves are tested on the real cell in
test_gateway_integration.py)."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.topics import _offset_results


def _failed(code: int, text: str) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_exception(KafkaException(KafkaError(code, text)))
    return future


def _answered(offset: int) -> concurrent.futures.Future:
    class Answer:
        pass

    answer = Answer()
    answer.offset = offset  # type: ignore[attr-defined]
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_result(answer)
    return future


def test_a_partition_without_a_known_leader_is_asked_again_not_fatal():
    """A topic deleted (or created) while the list is read: its partition has no leader in the
    client's metadata. Seen in the embedded crowd test as a 502 on a topic list."""
    out: dict = {}
    retry = _offset_results(
        {
            TopicPartition("t.gone", 0): _failed(
                KafkaError._NOENT, "Failed to query partition leaders: No leaders found"
            ),
            TopicPartition("t.moving", 0): _failed(
                KafkaError.NOT_LEADER_FOR_PARTITION, "Broker: Not leader for partition"
            ),
            TopicPartition("t.new", 0): _failed(
                KafkaError.LEADER_NOT_AVAILABLE, "Broker: Leader not available"
            ),
            TopicPartition("t.deleted", 0): _failed(
                KafkaError.UNKNOWN_TOPIC_OR_PART, "Broker: Unknown topic or partition"
            ),
            TopicPartition("t.ok", 0): _answered(42),
        },
        "Reading partition offsets",
        out,
    )
    assert retry == {("t.gone", 0), ("t.moving", 0), ("t.new", 0)}
    assert out == {("t.ok", 0): 42}


def test_a_leader_still_unknown_at_the_last_round_fails_the_read():
    """Not left out: a list would show a wrong count or lag without a word."""
    with pytest.raises(KafkaGatewayError) as raised:
        _offset_results(
            {
                TopicPartition("t.gone", 0): _failed(
                    KafkaError._NOENT, "Failed to query partition leaders: No leaders found"
                )
            },
            "Reading partition offsets",
            {},
            last_round=True,
        )
    assert raised.value.kafka_error == "_NOENT"


@pytest.mark.parametrize(
    ("code", "text", "last_round"),
    [
        # Any other error fails the read at once.
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed", False),
        # A leader still unknown at the last round is not left out: a list would show a wrong
        # count or lag without a word.
        (KafkaError._NOENT, "Failed to query partition leaders: No leaders found", True),
    ],
)
def test_the_read_fails_on_other_errors_and_on_a_leader_unknown_at_the_last_round(
    code, text, last_round
):
    with pytest.raises(KafkaGatewayError) as raised:
        _offset_results(
            {TopicPartition("t.x", 0): _failed(code, text)},
            "Reading partition offsets",
            {},
            last_round=last_round,
        )
    assert raised.value.kafka_error == KafkaError(code).name()


class _LeaderLearningAdmin:
    """Answers ListOffsets with _NOENT ("No leaders found") for its first `unknown_rounds`
    rounds of two calls (earliest, latest), then with offsets: a broker that learns a new
    topic's leader a moment after it was created."""

    def __init__(self, unknown_rounds: int) -> None:
        self.unknown_rounds = unknown_rounds
        self.calls = 0

    def poll(self, timeout: float) -> int:
        return 0

    def list_offsets(self, specs, **kwargs):
        self.calls += 1
        if (self.calls + 1) // 2 <= self.unknown_rounds:
            text = "Failed to query partition leaders: No leaders found"
            return {tp: _failed(KafkaError._NOENT, text) for tp in specs}
        return {tp: _answered(7) for tp in specs}


def _read_with(monkeypatch, admin: _LeaderLearningAdmin, wait: float):
    from fleet.kafka import connection, topics
    from fleet.kafka.connection import KafkaConnection, _ErrorTrap

    conn = KafkaConnection(
        bootstrap="127.0.0.1:1", username="u", password="p", ca_path=None, cell_name="c1"
    )
    trap = _ErrorTrap(cell="c1", timeout=conn.timeout)
    monkeypatch.setattr(connection._admin_clients, "get", lambda c: (admin, trap))
    monkeypatch.setattr(topics, "_LEADER_WAIT", wait)
    return topics.list_partition_offsets(conn, [("t.new", 0)])


def test_a_leader_learned_after_several_rounds_is_read(monkeypatch):
    """Four rounds without a leader (0.1 + 0.2 + 0.4 + 0.8 s of waiting), then the offsets:
    read, where three quick rounds failed a group list in CI."""
    admin = _LeaderLearningAdmin(unknown_rounds=4)
    offsets = _read_with(monkeypatch, admin, wait=5.0)
    assert offsets[("t.new", 0)].end == 7
    assert admin.calls == 10


def test_a_leader_unknown_for_the_whole_wait_fails_the_read(monkeypatch):
    admin = _LeaderLearningAdmin(unknown_rounds=1000)
    started = time.monotonic()
    with pytest.raises(KafkaGatewayError) as raised:
        _read_with(monkeypatch, admin, wait=0.5)
    assert raised.value.kafka_error == "_NOENT"
    assert time.monotonic() - started < 5, "the wait is bounded by _LEADER_WAIT"
