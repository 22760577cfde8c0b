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


def _answer(url: str, auth: tuple[str, str], since: str = "") -> tuple[str, str, bool]:
    """(text, token, is a delta) of one GET, asking for what changed since `since`."""
    if since:
        url = f"{url}?since={since}"
    request = urllib.request.Request(url)  # noqa: S310 (the test cell's own URL)
    request.add_header("Authorization", basic_auth_header(auth))
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        text = response.read().decode()
        token = response.headers.get("X-Skiff-Metrics-Token") or ""
        return text, token, response.headers.get("X-Skiff-Metrics-Delta") == "1"


def test_the_endpoint_answers_only_what_changed_since_a_token(side_by_side: CellInfo) -> None:
    [node] = side_by_side.nodes
    auth = side_by_side.metrics_auth
    assert auth is not None
    url = node.topic_metrics_url
    admin = side_by_side.admin_connection(timeout=20.0)
    topic = unique("skiff.test.delta-")
    gw.create_topic(admin, topic, partitions=1)
    try:
        full, token, delta = eventually(
            lambda: _present(_answer(url, auth), topic), timeout=30, interval=0.5
        )
        assert not delta and token

        # Nothing of the topic moved: a delta leaves it out.
        text, token, delta = _answer(url, auth, since=token)
        assert delta and f'topic="{topic}"' not in text, text

        # Records: its counters and size come back, with their new values, and applied to the
        # full answer they give what a full answer says now.
        assert gw.produce(admin, topic, [b"z" * 200] * 3) == 3
        held = parse_broker_metrics(full)

        def moved() -> tuple[dict, dict]:
            nonlocal token, held
            text, token, delta = _answer(url, auth, since=token)
            assert delta, "a token of this run gets a delta"
            changed = parse_broker_metrics(text)
            held = BrokerMetrics(
                counters={**held.counters, **changed.counters},
                log_sizes={**held.log_sizes, **changed.log_sizes},
            )
            ours = _topic(held, topic)
            assert ours[0].get(("messages_in", topic)) == 3, ours
            return ours

        ours = eventually(moved, timeout=30, interval=0.5)
        assert ours == _topic(parse_broker_metrics(_answer(url, auth)[0]), topic)
        assert ours[1][(topic, 0)] > 0

        # A token the broker did not give (another run of it, garbage, the future) gets the
        # full answer.
        for foreign in ("0.1", "zz", token.split(".")[0] + ".99999999"):
            text, _, delta = _answer(url, auth, since=foreign)
            assert not delta and f'topic="{topic}"' in text, foreign
    finally:
        gw.delete_topic(admin, topic)

    # Deleted: once the broker serves none of its series, a delta since a token from before
    # says they are gone (the broker drops a topic's meters and its log's gauge one by one).
    def removed() -> str:
        assert f'topic="{topic}"' not in _answer(url, auth)[0], "its series are still served"
        text, _, delta = _answer(url, auth, since=token)
        assert delta
        gone = [line for line in text.splitlines() if line.startswith("# REMOVED ")]
        assert any(f'topic="{topic}"' in line for line in gone), text
        return "\n".join(gone)

    gone = eventually(removed, timeout=30, interval=0.5)
    assert all(line.endswith(" 0") for line in gone.splitlines())
    assert f'# REMOVED kafka_log_size_bytes{{partition="0",topic="{topic}"}} 0' in gone
    assert (
        f'# REMOVED kafka_server_brokertopicmetrics_messagesinpersec_total{{topic="{topic}"}} 0'
        in gone
    )
    # Each removal is told once per token: the next delta no longer names the topic.
    _, token, _ = _answer(url, auth)
    text, _, _ = _answer(url, auth, since=token)
    assert f'topic="{topic}"' not in text


def _present(answer: tuple[str, str, bool], topic: str) -> tuple[str, str, bool]:
    assert f'topic="{topic}"' in answer[0], "the new topic's series are not served yet"
    return answer
