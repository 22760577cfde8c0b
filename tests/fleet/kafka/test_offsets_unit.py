"""How one partition's failed ListOffsets answer is treated in a bulk read (no cell needed: the
futures carry the errors librdkafka gives; the reads themselves are tested on the real cell in
test_gateway_integration.py)."""

from __future__ import annotations

import concurrent.futures

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
