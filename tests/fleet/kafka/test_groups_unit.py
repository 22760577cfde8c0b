"""How a group listing's per-broker errors are reported (no cell needed: the fake admin client
answers what librdkafka answers; listing groups on a real cell, and with a stopped broker, is
tested in test_gateway_integration.py and tests/clusters/test_stopped_broker.py).

librdkafka lists groups by asking every broker. A broker that does not answer in time is not a
failed future: the result carries it in ``errors``, as a bare ``KafkaError``, not an exception.
One CI run met it as a 502 "the Kafka client failed unexpectedly" on a topic's page.
"""

from __future__ import annotations

import concurrent.futures

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import ListConsumerGroupsResult

from fleet.kafka import connection
from fleet.kafka.connection import KafkaConnection, _ErrorTrap
from fleet.kafka.errors import CellTimeout, KafkaUnavailable, _from_exception
from fleet.kafka.groups import list_consumer_groups

CONN = KafkaConnection(
    bootstrap="127.0.0.1:1", username="u", password="p", ca_path=None, timeout=5.0, cell_name="c1"
)


class _ListingAdmin:
    """An admin client whose group listing is already answered with ``errors``."""

    def __init__(self, errors: list[KafkaError]) -> None:
        self.errors = errors

    def poll(self, timeout: float) -> int:
        return 0

    def list_consumer_groups(self, **kwargs: object) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(ListConsumerGroupsResult(valid=[], errors=self.errors))
        return future


@pytest.fixture
def answered_with(monkeypatch):
    def install(*errors: KafkaError) -> None:
        admin = _ListingAdmin(list(errors))
        trap = _ErrorTrap(cell=CONN.cell_name, timeout=CONN.timeout)
        monkeypatch.setattr(connection._admin_clients, "get", lambda conn: (admin, trap))

    return install


def test_a_broker_that_did_not_answer_is_a_timeout_naming_the_cell(answered_with):
    answered_with(KafkaError(KafkaError._TIMED_OUT, "Broker: Request timed out"))
    with pytest.raises(CellTimeout) as caught:
        list_consumer_groups(CONN)
    assert caught.value.status == 504
    assert "Cell 'c1' did not answer within 5 s" in caught.value.message, caught.value.message
    assert "Local:" not in caught.value.message


def test_a_broker_that_went_away_is_unavailable_not_an_unexpected_failure(answered_with):
    answered_with(KafkaError(KafkaError._TRANSPORT, "Local: Broker transport failure"))
    with pytest.raises(KafkaUnavailable) as caught:
        list_consumer_groups(CONN)
    assert "unexpectedly" not in caught.value.message, caught.value.message


def test_a_bare_kafka_error_maps_like_the_exception_that_carries_it():
    bare = _from_exception(KafkaError(KafkaError._TIMED_OUT, "timed out"), "Listing", cell="c1")
    assert isinstance(bare, CellTimeout)
    assert "unexpectedly" not in bare.message
