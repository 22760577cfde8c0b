"""Each broker's own per-topic metrics endpoint (io.skiff.metrics.TopicMetricsEndpoint, issue 20)
on a real cell: the same numbers as the JMX exporter, the exporter's credential, the sampler.

The cell here is a 1-node cell whose exporter still has the per-topic rules (the platform's
cells leave them out: `exporter_topic_series`), so both can be read side by side.
"""

from __future__ import annotations

import atexit
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from fleet.runtime.launcher import CellInfo, LocalCell, basic_auth_header
from fleet.services.rates import BrokerMetrics, parse_broker_metrics
from tests.fleet.kafka import gateway as gw
from tests.fleet.kafka.util import eventually, metrics_get, unique

START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))
HEAP_MB = int(os.environ.get("SKIFF_TEST_KAFKA_HEAP_MB", "256"))


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    cell = LocalCell(
        tmp_path_factory.mktemp("topic-metrics-cell"),
        name="topicmetrics",
        exporter_topic_series=True,
    )
    atexit.register(cell.down)
    try:
        yield cell.up(nodes=1, heap_mb=HEAP_MB, timeout=START_TIMEOUT)
    finally:
        cell.down()
        atexit.unregister(cell.down)


def _status(url: str, authorization: str | None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 (the test cell's own URL)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _topic(metrics: BrokerMetrics, topic: str) -> tuple[dict, dict]:
    return (
        {key: value for key, value in metrics.counters.items() if key[1] == topic},
        {key: value for key, value in metrics.log_sizes.items() if key[0] == topic},
    )


def test_the_endpoint_answers_what_the_exporter_answers(side_by_side: CellInfo) -> None:
    [node] = side_by_side.nodes
    assert node.topic_metrics_url and node.topic_metrics_url != node.metrics_url
    admin = side_by_side.admin_connection(timeout=20.0)
    topic = unique("skiff.test.endpoint-")
    gw.create_topic(admin, topic, partitions=2)
    try:
        for partition in (0, 1):
            assert gw.produce(admin, topic, [b"y" * 300] * 4, partition=partition) == 4
        auth = side_by_side.metrics_auth

        def same() -> tuple[dict, dict]:
            ours = _topic(parse_broker_metrics(metrics_get(node.topic_metrics_url, auth)), topic)
            theirs = _topic(parse_broker_metrics(metrics_get(node.metrics_url, auth)), topic)
            assert ours == theirs, f"endpoint {ours} != exporter {theirs}"
            assert ours[0][("messages_in", topic)] == 8, ours
            return ours

        counters, sizes = eventually(same, timeout=30, interval=0.5)
        assert counters[("bytes_in", topic)] >= 8 * 300
        assert set(sizes) == {(topic, 0), (topic, 1)} and all(sizes.values())
    finally:
        gw.delete_topic(admin, topic)


def test_the_endpoint_asks_for_the_exporters_credential(side_by_side: CellInfo) -> None:
    [node] = side_by_side.nodes
    user, password = side_by_side.metrics_auth
    url = node.topic_metrics_url
    assert _status(url, None) == 401
    assert _status(url, basic_auth_header((user, password + "x"))) == 401
    assert _status(url, basic_auth_header(("admin", password))) == 401
    assert _status(url, basic_auth_header((user, ""))) == 401
    assert _status(url, "Basic not-base64!") == 401
    assert _status(url, "Bearer " + password) == 401
    assert _status(url, basic_auth_header((user, password))) == 200
    # Only /metrics; an unknown path says nothing without the credential either.
    other = url.replace("/metrics", "/other")
    assert _status(other, None) == 401
    assert _status(other, basic_auth_header((user, password))) == 404
    # Loopback only, like the exporter.
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.django_db
def test_the_sampler_reads_the_endpoint(side_by_side: CellInfo) -> None:
    from fleet.services.cells import cell_record_local
    from fleet.services.sampler import Sampler, fetch_metrics_text

    [node] = side_by_side.nodes
    cell = cell_record_local(side_by_side)
    assert cell.brokers.get().topic_metrics_url == node.topic_metrics_url
    asked: list[str] = []

    def recording_fetch(url: str, timeout: float, *auth: tuple[str, str]) -> str:
        asked.append(url.split("?", 1)[0])
        return fetch_metrics_text(url, timeout, *auth)

    sampler = Sampler(timeout=10.0, fetch=recording_fetch)
    for _ in range(2):
        outcome = sampler.run_once()
        assert outcome.scraped == 1 and not outcome.unreachable
    assert asked == [node.topic_metrics_url] * 2
    broker = cell.brokers.get()
    assert broker.last_scrape_error == "" and broker.last_scrape_at is not None
