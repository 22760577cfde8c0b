"""The sampler: scrape every broker, publish live per-cluster rates, store per-minute usage.

One pass (`Sampler.run_once`), every ``SKIFF_SAMPLER_INTERVAL`` seconds (1 s by default, so that
a produced message shows on the live pages within about a second):

1. scrape the metrics endpoint of every broker of every cell concurrently, each with a timeout:
   the broker's own per-topic endpoint (`Broker.topic_metrics_url`, served by
   io.skiff.metrics.TopicMetricsEndpoint in the platform's cells, issue 20), or its exporter
   (`Broker.metrics_url`) where it has none (registered cells) or refuses the connection (a node
   still running from before it); every broker's outcome is recorded (`Broker.last_scrape_at`,
   `last_scrape_error`). A broker whose scrape fails is skipped (the others go on) and, when its
   Kafka port does not accept a connection either, marked DOWN; it is UP again at its next
   answered scrape. A failed scrape of a broker whose Kafka port still answers (an exporter
   problem) leaves its state alone.
   Unregistered brokers (retired by a fleet operation) are not scraped;
2. parse each answer (`rates.parse_broker_metrics`; an answer byte for byte the same as the
   broker's previous one — a quiet broker — is not parsed again) and turn the cumulative counters
   into deltas and rates per (broker, topic) series (`rates.CounterTracker`: resets, missing
   series, first sample);
3. map wire topic names to clusters by their prefix `<team>.<cluster>.` and aggregate per
   cluster;
4. send one message per cluster to `throughput_group_name(cluster_id)` — when its document
   changed, or every ``SKIFF_SAMPLER_HEARTBEAT`` seconds when it did not (`Publisher`) — and
   keep the same document in `ThroughputSnapshot` (for the API and for sockets that connect
   later);
5. add the deltas to per-minute rows `TopicMinuteUsage` (storage as a gauge) and save the
   counters they account for (`SamplerCheckpoint`) in the same transaction, every
   ``SKIFF_SAMPLER_FLUSH_INTERVAL`` seconds (5) and when a minute closes: rows are written
   with SET semantics, so re-running a flush is harmless, and a restarted sampler resumes from
   the checkpoint without losing or double-counting bytes.

Run by `manage.py run_sampler` (its own process in production) or by `SamplerThread` inside the
web process (`manage.py run_console`, the embedded default).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime as dt
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from fleet.models import Broker, Cell, SamplerCheckpoint, ThroughputSnapshot, TopicMinuteUsage
from fleet.services.rates import (
    METER_KEYS,
    READ_FAMILIES,
    BrokerMetrics,
    CounterTracker,
    MetricsParseError,
    decode_counters,
    encode_counters,
    parse_broker_metrics,
    topic_storage,
)
from fleet.tenancy import tenant_directory

logger = logging.getLogger(__name__)

MAX_METRICS_BYTES = 64 * 1024 * 1024
# How often an UP broker's `last_seen_at` is refreshed (a write per broker per pass is waste).
LAST_SEEN_EVERY = dt.timedelta(seconds=60)

RATE_KEYS = {meter: f"{meter}_per_sec" for meter in METER_KEYS}


def throughput_group_name(cluster_id: int) -> str:
    """The Channels group of one cluster's live throughput (sampler → consumers)."""
    return f"cluster.{cluster_id}.throughput"


def split_wire_name(topic: str) -> tuple[str, str] | None:
    """`team.cluster.short` → (`team.cluster.`, `short`); None for platform/internal topics."""
    parts = topic.split(".", 2)
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
        return None
    return f"{parts[0]}.{parts[1]}.", parts[2]


def minute_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


# --- scraping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerTarget:
    pk: int
    cell_id: int
    node_id: int
    url: str
    state: str
    last_seen_at: dt.datetime | None
    # Metrics behind authentication (issue 13): the cell's basic-auth credential, if it has one.
    auth: tuple[str, str] | None = field(default=None, repr=False, compare=False)
    # "host:port" of the broker's Kafka listener: probed when the scrape fails (issue 14).
    kafka_address: str = ""
    # The exporter, read when `url` is the broker's per-topic endpoint and refuses the
    # connection (a node started before the endpoint existed; issue 20). "" when `url` is it.
    fallback_url: str = ""


@dataclass
class ScrapeResult:
    target: BrokerTarget
    # When the counters were read: between sending the request and the answer's arrival
    # (the midpoint, so a slow answer does not skew the interval the rate divides by).
    at: float
    metrics: BrokerMetrics | None = None
    error: str = ""
    # After a failed scrape: whether the broker's Kafka port accepted a TCP connection
    # (None: not probed, e.g. no address known).
    reachable: bool | None = None

    @property
    def ok(self) -> bool:
        return self.metrics is not None


def kafka_port_reachable(address: str, timeout: float) -> bool:
    """Whether something accepts a TCP connection at "host:port" within `timeout`."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def metrics_request_url(url: str) -> str:
    """The broker's metrics URL asking only for the families the sampler reads.

    The exporter's `name[]` filter skips the collectors of every other family (the JVM ones
    read every thread's state and walk the memory pools on each scrape) and shrinks the text
    we parse about ninefold on a small broker; a plain scrape still gets every family.
    """
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query += [("name[]", family) for family in READ_FAMILIES]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class MetricsText(str):
    """A metrics answer's text, with what the broker's per-topic endpoint said about it: its
    token (`X-Skiff-Metrics-Token`, "" from an exporter) and whether it holds only what changed
    since the token the request sent (`X-Skiff-Metrics-Delta`)."""

    token: str = ""
    delta: bool = False


# A delta answer lists each series gone since the request's token as a comment (which every
# other reader skips) followed by the series and a 0: `# REMOVED name{labels} 0`.
REMOVED_PREFIX = "# REMOVED "


def fetch_metrics_text(url: str, timeout: float, auth: tuple[str, str] | None = None) -> str:
    request = urllib.request.Request(  # noqa: S310
        metrics_request_url(url), headers={"Accept": "text/plain"}
    )
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        body = response.read(MAX_METRICS_BYTES + 1)
        headers = response.headers
    if len(body) > MAX_METRICS_BYTES:
        raise MetricsParseError(f"answer larger than {MAX_METRICS_BYTES} bytes")
    text = MetricsText(body.decode("utf-8", errors="replace"))
    text.token = (headers.get("X-Skiff-Metrics-Token") or "").strip()
    text.delta = headers.get("X-Skiff-Metrics-Delta") == "1"
    return text


def url_since(url: str, token: str) -> str:
    """`url` asking the per-topic endpoint for what changed since its answer `token`."""
    if not token:
        return url
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "since"]
    query.append(("since", token))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def metrics_credentials(cell_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Each cell's metrics credential, from its owner-only credentials file (issue 13).

    Cells whose file has none (registered external cells, older cells) are scraped without.
    """
    found: dict[int, tuple[str, str]] = {}
    for cell_id, path in Cell.objects.filter(pk__in=set(cell_ids)).values_list(
        "pk", "credentials_path"
    ):
        if not path:
            continue
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        username, password = data.get("metrics_username"), data.get("metrics_password")
        if isinstance(username, str) and isinstance(password, str) and username and password:
            found[cell_id] = (username, password)
    return found


def _refused(exc: BaseException) -> bool:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, ConnectionRefusedError)


class _ParseCache:
    """Each broker's last answer and what it parsed to (issue 20).

    A quiet broker answers the same bytes pass after pass (no counter moved, no log grew):
    parsing them again was the pass's biggest cost at a pass per second. The same
    `BrokerMetrics` object comes back, which `CounterTracker.observe` also recognises. A busy
    broker's answer differs from its last one in a few lines (the topics that moved): only
    those lines are parsed, and applied to a copy of the last result. Each series is one line
    in both the exporter's and the endpoint's answers, so a line that is gone is a series gone
    (unless a new line gives the same series its new value).

    The per-topic endpoint goes further: asked with the token of its last answer (`since`), it
    answers only the series that changed and those removed, so neither side renders or reads
    the thousands that did not (at 1,000 clusters a full answer is ~314 KB a broker a second).
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[str | None, frozenset[str] | None, BrokerMetrics]] = {}
        self._tokens: dict[int, str] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.partial = 0
        self.deltas = 0

    def since(self, pk: int) -> str:
        """The token to send a broker: that of the answer its last result was made from."""
        with self._lock:
            return self._tokens.get(pk, "") if pk in self._last else ""

    def parse(self, pk: int, text: str) -> BrokerMetrics:
        token = getattr(text, "token", "")
        with self._lock:
            last = self._last.get(pk)
        if getattr(text, "delta", False):
            if last is None:  # `since` sends no token then; this pass fails, the next asks afresh
                raise MetricsParseError("a delta answer without an answer before it")
            applied = self._apply_delta(last[2], text)
            with self._lock:
                self.deltas += 1
                self._last[pk] = (None, None, applied)
                self._tokens[pk] = token
            return applied
        if last is not None and last[0] == text:
            with self._lock:
                self.hits += 1
                self._tokens[pk] = token
            return last[2]
        lines = text.split("\n")
        current = frozenset(lines)
        metrics = None
        if last is not None and last[1] is not None:
            previous = last[1]
            added = [line for line in lines if line not in previous]
            removed = previous - current
            if len(added) + len(removed) < len(lines) // 4:
                metrics = _apply(last[2], parse_broker_metrics("\n".join(added)), removed)
                with self._lock:
                    self.partial += 1
        if metrics is None:
            metrics = parse_broker_metrics(text)
        with self._lock:
            self._last[pk] = (str(text), current, metrics)
            self._tokens[pk] = token
        return metrics

    @staticmethod
    def _apply_delta(last: BrokerMetrics, text: str) -> BrokerMetrics:
        removed = [
            line[len(REMOVED_PREFIX) :]
            for line in text.split("\n")
            if line.startswith(REMOVED_PREFIX)
        ]
        added = parse_broker_metrics(text)
        if not removed and not added.counters and not added.log_sizes:
            return last  # nothing moved: the same object, which the tracker recognises
        return _apply(last, added, removed)


def _apply(last: BrokerMetrics, added: BrokerMetrics, removed: Iterable[str]) -> BrokerMetrics:
    """`last` with the series of the added lines set and those of the removed lines gone."""
    counters, log_sizes = dict(last.counters), dict(last.log_sizes)
    gone = parse_broker_metrics("\n".join(removed))
    for key in gone.counters.keys() - added.counters.keys():
        counters.pop(key, None)
    for size_key in gone.log_sizes.keys() - added.log_sizes.keys():
        log_sizes.pop(size_key, None)
    counters.update(added.counters)
    log_sizes.update(added.log_sizes)
    return BrokerMetrics(counters=counters, log_sizes=log_sizes)


def scrape_brokers(
    targets: list[BrokerTarget],
    *,
    timeout: float,
    fetch: Callable[..., str] = fetch_metrics_text,
    clock: Callable[[], float] = time.monotonic,
    parse: Callable[[int, str], BrokerMetrics] | None = None,
    since: Callable[[int], str] | None = None,
) -> list[ScrapeResult]:
    """Scrape all targets at once; each gets `timeout` seconds, a failure is a result.

    `since(pk)` is the token of the broker's last answer that `parse` holds: the per-topic
    endpoint then answers only what changed (`_ParseCache`)."""

    def get(url: str, target: BrokerTarget) -> str:
        # fetch(url, timeout[, auth]): the credential only where the cell has one.
        return fetch(url, timeout) if target.auth is None else fetch(url, timeout, target.auth)

    def one(target: BrokerTarget) -> ScrapeResult:
        sent = clock()
        try:
            try:
                token = since(target.pk) if since is not None else ""
                text = get(url_since(target.url, token), target)
                fallback = False
            except (OSError, urllib.error.URLError) as exc:
                if not (target.fallback_url and _refused(exc)):
                    raise
                text = get(target.fallback_url, target)
                fallback = True
            at = (sent + clock()) / 2
            metrics = (
                parse_broker_metrics(text) if parse is None or fallback else parse(target.pk, text)
            )
            if fallback and not metrics.counters and not metrics.log_sizes:
                # The platform's exporters leave the per-topic series to the endpoint: an
                # empty answer here must not read as "every topic is gone" (storage 0).
                raise MetricsParseError(
                    f"{target.url} refused the connection and the exporter serves no per-topic "
                    "series"
                )
            return ScrapeResult(target, at=at, metrics=metrics)
        except (OSError, urllib.error.URLError, MetricsParseError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
            reachable = (
                kafka_port_reachable(target.kafka_address, min(timeout, 2.0))
                if target.kafka_address
                else None
            )
            return ScrapeResult(target, at=clock(), error=error, reachable=reachable)

    if not targets:
        return []
    workers = min(32, len(targets))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="skiff-scrape") as pool:
        return list(pool.map(one, targets))


# --- the live document -------------------------------------------------------------------------


def _zero_rates() -> dict[str, float]:
    return {key: 0.0 for key in RATE_KEYS.values()}


# A topic's rates in a pass in which it did not move (shared: documents copy what they read).
_IDLE_TOPIC_RATES: dict[str, float] = {RATE_KEYS[m]: 0.0 for m in METER_KEYS}


def document_time(moment: dt.datetime) -> str:
    """A document's `ts`: UTC, ISO 8601 with a Z."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _rounded(rates: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 2) for key, value in rates.items()}


def throughput_document(
    *,
    ts: dt.datetime,
    topic_rates: dict[str, dict[str, float]],
    topic_storage_bytes: dict[str, int],
    partial: bool = False,
) -> dict:
    """The socket/API contract: {"ts", "cluster": {rates}, "topics": {short: {rates}}}.

    Rates are `bytes_in_per_sec`, `bytes_out_per_sec`, `messages_in_per_sec`; `storage_bytes`
    is the current size (largest replica of each partition); `partial` is true when a broker of
    the cell did not answer this pass.
    """
    cluster = _zero_rates()
    cluster_storage = 0
    topics = {}
    for short in sorted(set(topic_rates) | set(topic_storage_bytes)):
        rates = topic_rates.get(short) or _zero_rates()
        storage = topic_storage_bytes.get(short, 0)
        for key, value in rates.items():
            cluster[key] += value
        cluster_storage += storage
        topics[short] = {**_rounded(rates), "storage_bytes": storage}
    return {
        "ts": document_time(ts),
        "cluster": {**_rounded(cluster), "storage_bytes": cluster_storage},
        "topics": topics,
        "partial": partial,
    }


def empty_document(ts: dt.datetime | None = None) -> dict:
    return throughput_document(ts=ts or timezone.now(), topic_rates={}, topic_storage_bytes={})


# --- publishing --------------------------------------------------------------------------------

# The web process's event loop, recorded by the consumers: with the in-memory channel layer
# (embedded default) the sampler thread must hand its sends to that loop.
_server_loop: asyncio.AbstractEventLoop | None = None


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def throughput_message(document: dict) -> dict:
    """The group message of one push: the document already encoded as JSON text.

    Encoded once here rather than once per socket: every subscriber of a cluster sends the
    same text, and a string is not deep-copied per channel by the in-memory layer nor re-packed
    into nested maps by the Redis one.
    """
    return {"type": "throughput.update", "text": json.dumps(document, separators=(",", ":"))}


class Publisher:
    """Sends group messages from sync code through one long-lived event loop.

    With a `heartbeat` (seconds), a group's document is sent only when it differs from the last
    one sent to that group (its `ts` aside) or when `heartbeat` seconds have passed since: a
    pass every second costs the sockets of a quiet cluster no more than one push per heartbeat,
    and a change is still pushed by the pass that saw it. Without one, every document is sent.
    """

    def __init__(self, layer=None, *, heartbeat: float | None = None) -> None:
        from channels.layers import get_channel_layer

        self.layer = layer if layer is not None else get_channel_layer()
        self.heartbeat = heartbeat
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Per group: the last document sent (without its ts) and when (monotonic seconds).
        self._sent: dict[str, tuple[dict, float]] = {}
        self.skipped = 0  # documents not sent because nothing changed (for tests and benches)

    def changed(
        self, messages: list[tuple[str, dict]], now: float | None = None
    ) -> list[tuple[str, dict]]:
        """The messages to send now (all of them without a heartbeat); remembers them as sent."""
        if self.heartbeat is None:
            return messages
        now = time.monotonic() if now is None else now
        out = []
        for group, document in messages:
            content = {key: value for key, value in document.items() if key != "ts"}
            last = self._sent.get(group)
            # A tenth of slack: passes run on a fixed schedule, and one that starts a few ms
            # early must not hold a heartbeat back by a whole interval.
            if last is None or last[0] != content or now - last[1] >= 0.9 * self.heartbeat:
                self._sent[group] = (content, now)
                out.append((group, document))
            else:
                self.skipped += 1
        return out

    @property
    def in_memory(self) -> bool:
        from channels.layers import InMemoryChannelLayer

        return isinstance(self.layer, InMemoryChannelLayer)

    def _loop(self) -> asyncio.AbstractEventLoop | None:
        if self.in_memory:
            loop = _server_loop
            return loop if loop is not None and not loop.is_closed() else None
        if self._own_loop is None:
            self._own_loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._own_loop.run_forever, name="skiff-sampler-publish", daemon=True
            )
            self._thread.start()
        return self._own_loop

    def send(self, messages: list[tuple[str, dict]], timeout: float = 10.0) -> None:
        if self.layer is None or not messages:
            return
        loop = self._loop()
        if loop is None:
            return  # embedded and no socket ever connected: nobody to tell
        messages = self.changed(messages)
        if not messages:
            return

        async def send_all() -> None:
            await asyncio.gather(
                *(self.layer.group_send(group, throughput_message(doc)) for group, doc in messages)
            )

        asyncio.run_coroutine_threadsafe(send_all(), loop).result(timeout)

    def close(self) -> None:
        if self._own_loop is not None:
            self._own_loop.call_soon_threadsafe(self._own_loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._own_loop.close()
            self._own_loop = None


# --- per-minute rows ---------------------------------------------------------------------------

UsageKey = tuple[int, str, dt.datetime]  # (cluster id, short topic, minute)


@dataclass
class _MinuteTotals:
    bytes_in: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    storage_bytes: int = 0

    def add(self, deltas: dict[str, int]) -> None:
        self.bytes_in += deltas.get("bytes_in", 0)
        self.bytes_out += deltas.get("bytes_out", 0)
        self.messages_in += deltas.get("messages_in", 0)


@dataclass
class PassResult:
    """What one pass did (for tests, logs and the bench)."""

    documents: dict[int, dict] = field(default_factory=dict)  # cluster id → document
    unreachable: list[BrokerTarget] = field(default_factory=list)
    scraped: int = 0
    rows_written: int = 0
    scrape_seconds: float = 0.0  # the slowest broker's answer (scrapes run concurrently)


class Sampler:
    def __init__(
        self,
        *,
        timeout: float | None = None,
        publisher: Publisher | None = None,
        fetch: Callable[..., str] = fetch_metrics_text,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = timezone.now,
        flush_every: float = 0.0,
    ) -> None:
        self.timeout = settings.SKIFF_SAMPLER_TIMEOUT if timeout is None else timeout
        # Seconds between writes of the rows, checkpoint and snapshots (0: every pass). Passes
        # run every second for the live pages; the database need not follow at that rate.
        self.flush_every = flush_every
        self._last_flush: dt.datetime | None = None
        self._pending_snapshots: dict[int, dict[str, dict]] = {}
        self.publisher = publisher
        self.fetch = fetch
        self.clock = clock
        self.now = now
        self.tracker = CounterTracker()
        self._parsed = _ParseCache()
        # Per cell, after a pass in which nothing moved: what it saw and the documents it made.
        # A next pass that sees the very same answers (and clusters, and minute) reuses them.
        self._quiet: dict[int, tuple[tuple, dict[int, dict]]] = {}
        # Per cluster, the inputs of its last document and the document (issue 20): in a cell
        # where a few tenants move, the others' documents are the last ones with the new time.
        self._documents: dict[int, tuple[tuple, dict]] = {}
        # Wire topic name -> (cluster prefix, short name), or None for a name of no cluster.
        self._wire_names: dict[str, tuple[str, str] | None] = {}
        # Per cell, the counters of the checkpoint last written (rewritten only when they moved).
        self._checkpointed: dict[int, dict[str, dict]] = {}
        # Last good log sizes per broker, used while a broker does not answer.
        self._log_sizes: dict[int, dict[tuple[str, int], int]] = {}
        self._totals: dict[UsageKey, _MinuteTotals] = {}
        self._seeded: set[UsageKey] = set()  # keys whose DB row is included in _totals
        self._dirty: set[UsageKey] = set()
        self._restored: set[int] = set()  # cells whose checkpoint was loaded

    # -- state across restarts --

    def _restore_checkpoints(self, cell_ids: Iterable[int]) -> None:
        missing = set(cell_ids) - self._restored
        if not missing:
            return
        for checkpoint in SamplerCheckpoint.objects.filter(cell_id__in=missing):
            for node_id, encoded in checkpoint.counters.items():
                key = (checkpoint.cell_id, int(node_id))
                if not self.tracker.knows(key):
                    self.tracker.restore(key, decode_counters(encoded))
        self._restored |= missing

    # -- one pass --

    def targets(self) -> list[BrokerTarget]:
        rows = list(
            Broker.objects.exclude(metrics_url="")
            .exclude(state=Broker.State.UNREGISTERED)
            .values_list(
                "pk",
                "cell_id",
                "node_id",
                "metrics_url",
                "topic_metrics_url",
                "state",
                "last_seen_at",
                "host",
                "port",
            )
        )
        auth = metrics_credentials({row[1] for row in rows})
        return [
            BrokerTarget(
                pk,
                cell_id,
                node_id,
                topic_url or url,
                state,
                last_seen_at,
                auth.get(cell_id),
                kafka_address=f"{host}:{port}" if host and port else "",
                fallback_url=url if topic_url else "",
            )
            for pk, cell_id, node_id, url, topic_url, state, last_seen_at, host, port in rows
        ]

    def run_once(self) -> PassResult:
        targets = self.targets()
        self._restore_checkpoints({t.cell_id for t in targets})
        scrape_started = self.clock()
        results = scrape_brokers(
            targets,
            timeout=self.timeout,
            fetch=self.fetch,
            clock=self.clock,
            parse=self._parsed.parse,
            since=self._parsed.since,
        )
        moment = self.now()
        minute = minute_of(moment)
        outcome = PassResult(
            scraped=len(results),
            scrape_seconds=max((2 * (r.at - scrape_started) for r in results), default=0.0),
        )

        # Per cell: summed deltas and rates per wire topic, storage per wire topic.
        deltas: dict[int, dict[str, dict[str, int]]] = {}
        rates: dict[int, dict[str, dict[str, float]]] = {}
        has_rates: dict[int, bool] = {}
        sizes: dict[int, list[dict[tuple[str, int], int]]] = {}
        partial: dict[int, bool] = {}
        # Quiet brokers (the same answer as last pass): their topics, without per-series work.
        quiet_topics: dict[int, set[str]] = {}
        seen: dict[int, list[BrokerMetrics]] = {}
        moved: dict[int, bool] = {}
        for result in results:
            target = result.target
            cell_deltas = deltas.setdefault(target.cell_id, {})
            cell_rates = rates.setdefault(target.cell_id, {})
            has_rates.setdefault(target.cell_id, False)
            partial.setdefault(target.cell_id, False)
            metrics = result.metrics
            if metrics is None:  # not result.ok
                outcome.unreachable.append(target)
                partial[target.cell_id] = True
                if target.pk in self._log_sizes:
                    sizes.setdefault(target.cell_id, []).append(self._log_sizes[target.pk])
                continue
            observed = self.tracker.observe(
                (target.cell_id, target.node_id),
                result.at,
                metrics.counters,
                hosted_topics=metrics.hosted_topics,
            )
            if observed.rated:
                has_rates[target.cell_id] = True
            seen.setdefault(target.cell_id, []).append(metrics)
            self._log_sizes[target.pk] = metrics.log_sizes
            sizes.setdefault(target.cell_id, []).append(metrics.log_sizes)
            if observed.unchanged:
                # Every delta and rate is zero: only its topics count (for the documents).
                quiet_topics.setdefault(target.cell_id, set()).update(metrics.counted_topics)
                continue
            moved[target.cell_id] = True
            for (meter, topic), delta in observed.deltas.items():
                if delta:
                    per_topic = cell_deltas.setdefault(topic, {})
                    per_topic[meter] = per_topic.get(meter, 0) + delta
            for (meter, topic), rate in observed.rates.items():
                per_topic_rates = cell_rates.setdefault(topic, {})
                per_topic_rates[meter] = per_topic_rates.get(meter, 0.0) + rate

        clusters = self._live_clusters(set(deltas))
        messages: list[tuple[str, dict]] = []
        snapshots: dict[int, dict[str, dict]] = {}
        for cell_id in deltas:
            cell_clusters = {
                cluster_id: prefix
                for (c_cell, prefix), cluster_id in clusters.items()
                if c_cell == cell_id
            }
            # A quiet cell: every broker answered exactly what it answered in the last pass, in
            # which nothing moved either; same clusters, same minute. Its documents are the last
            # ones with this pass's time, and its minute rows already hold all of it.
            quiet_key = (tuple(seen.get(cell_id, ())), minute, cell_clusters)
            quiet = not moved.get(cell_id) and not partial[cell_id] and has_rates[cell_id]
            last_quiet = self._quiet.get(cell_id)
            if quiet and last_quiet is not None and last_quiet[0] == quiet_key:
                ts = document_time(moment)
                cell_snapshot = {}
                for quiet_cluster, last_document in last_quiet[1].items():
                    fresh = {**last_document, "ts": ts}
                    outcome.documents[quiet_cluster] = fresh
                    cell_snapshot[str(quiet_cluster)] = fresh
                    messages.append((throughput_group_name(quiet_cluster), fresh))
                snapshots[cell_id] = cell_snapshot
                continue
            self._quiet.pop(cell_id, None)
            storage = topic_storage(sizes.get(cell_id, []))
            by_cluster_rates: dict[int, dict[str, dict[str, float]]] = {}
            by_cluster_storage: dict[int, dict[str, int]] = {}
            topics_seen = set(rates[cell_id]) | set(storage) | set(deltas[cell_id])
            topics_seen |= quiet_topics.get(cell_id, set())
            # Per topic of the cell, every pass: at 1,000 clusters (5,000 topics) this loop and
            # the documents below were most of the pass once any tenant moved, so what does
            # not depend on this pass is looked up, not computed again.
            cell_rates, cell_deltas = rates[cell_id], deltas[cell_id]
            wire_names = self._wire_names
            if len(wire_names) > 200_000:  # names of deleted topics: forget them all at once
                wire_names.clear()
            for topic in topics_seen:
                if topic in wire_names:
                    split = wire_names[topic]
                else:
                    split = wire_names[topic] = split_wire_name(topic)
                if split is None:
                    continue
                cluster_id = clusters.get((cell_id, split[0]))
                if cluster_id is None:
                    continue
                short = split[1]
                topic_rates = cell_rates.get(topic)
                by_cluster_rates.setdefault(cluster_id, {})[short] = (
                    {RATE_KEYS[m]: topic_rates.get(m, 0.0) for m in METER_KEYS}
                    if topic_rates
                    else _IDLE_TOPIC_RATES
                )
                size = storage.get(topic, 0)
                by_cluster_storage.setdefault(cluster_id, {})[short] = size
                topic_deltas = cell_deltas.get(topic)
                key = (cluster_id, short, minute)
                totals = self._totals.get(key)
                if totals is not None and not topic_deltas and totals.storage_bytes == size:
                    continue  # nothing to add, nothing to mark
                self._accumulate(key, topic_deltas or {}, size)
            if not has_rates[cell_id]:
                continue  # the first pass over this cell: nothing to compare with yet
            cell_snapshot = {}
            ts = document_time(moment)
            for (c_cell, _prefix), cluster_id in clusters.items():
                if c_cell != cell_id:
                    continue
                inputs = (
                    partial[cell_id],
                    by_cluster_rates.get(cluster_id, {}),
                    by_cluster_storage.get(cluster_id, {}),
                )
                previous = self._documents.get(cluster_id)
                if previous is not None and previous[0] == inputs:
                    document = {**previous[1], "ts": ts}
                else:
                    document = throughput_document(
                        ts=moment,
                        topic_rates=inputs[1],
                        topic_storage_bytes=inputs[2],
                        partial=inputs[0],
                    )
                self._documents[cluster_id] = (inputs, document)
                outcome.documents[cluster_id] = document
                cell_snapshot[str(cluster_id)] = document
                messages.append((throughput_group_name(cluster_id), document))
            snapshots[cell_id] = cell_snapshot
            if quiet:
                self._quiet[cell_id] = (
                    quiet_key,
                    {int(cluster_id): document for cluster_id, document in cell_snapshot.items()},
                )

        if len(self._documents) > len(clusters):  # deleted clusters, or cells not read now
            live = set(clusters.values())
            for gone in [cluster_id for cluster_id in self._documents if cluster_id not in live]:
                del self._documents[gone]

        # Push first (latency is what the pages feel), then write: broker states, rows.
        if self.publisher is not None:
            try:
                self.publisher.send(messages)
            except Exception:  # a channel layer hiccup must not stop sampling
                logger.exception("publishing throughput failed")
        self._mark_brokers(results, moment)
        self._pending_snapshots.update(snapshots)
        if self._flush_due(moment):
            outcome.rows_written = self.flush(moment, targets, self._pending_snapshots)
            self._pending_snapshots = {}
            self._last_flush = moment
        return outcome

    def _flush_due(self, moment: dt.datetime) -> bool:
        """Every `flush_every` seconds (a tenth of slack for the pass schedule), and at once
        when a minute closed, so its rows are final soon after it ends."""
        last = self._last_flush
        return (
            self.flush_every <= 0
            or last is None
            or minute_of(moment) != minute_of(last)
            or (moment - last).total_seconds() >= 0.9 * self.flush_every
        )

    def flush_pending(self) -> int:
        """Write what passes since the last write accumulated (on stop). Nothing is lost
        without it — the checkpoint and rows on disk agree, and a restarted sampler counts the
        rest from them — but the rows are then late by up to `flush_every` seconds."""
        if not self._dirty and not self._pending_snapshots:
            return 0
        moment = self.now()
        written = self.flush(moment, self.targets(), self._pending_snapshots)
        self._pending_snapshots = {}
        self._last_flush = moment
        return written

    def _live_clusters(self, cell_ids: set[int]) -> dict[tuple[int, str], int]:
        return tenant_directory().live_namespaces(cell_ids=cell_ids)

    def _mark_brokers(self, results: list[ScrapeResult], moment: dt.datetime) -> None:
        """Record every broker's scrape outcome and state (issue 14).

        Two statements for the brokers that answered, one per broker that did not. A broker
        retired meanwhile (UNREGISTERED) is left alone.
        """
        states: list[tuple[int, str]] = []
        seen: list[int] = []
        answered: list[int] = []
        for r in results:
            target = r.target
            if r.ok:
                states.append((target.cell_id, Broker.State.UP))
                refresh = (
                    target.state != Broker.State.UP
                    or target.last_seen_at is None
                    or moment - target.last_seen_at >= LAST_SEEN_EVERY
                )
                (seen if refresh else answered).append(target.pk)
                continue
            where = (
                "its Kafka port refuses connections too"
                if r.reachable is False
                else "its Kafka port answers"
                if r.reachable
                else "Kafka port not probed"
            )
            error = f"{r.error} ({where})"[:500]
            state = target.state if r.reachable else Broker.State.DOWN
            states.append((target.cell_id, state))
            if target.state != state or target.state == Broker.State.UP:
                logger.warning(
                    "broker %s/%s did not answer at %s: %s (skipped)",
                    target.cell_id,
                    target.node_id,
                    target.url,
                    error,
                )
            self._live_brokers([target.pk]).update(
                state=state, last_scrape_at=moment, last_scrape_error=error
            )
        if seen:
            self._live_brokers(seen).update(
                state=Broker.State.UP,
                last_seen_at=moment,
                last_scrape_at=moment,
                last_scrape_error="",
            )
        if answered:
            self._live_brokers(answered).update(
                state=Broker.State.UP, last_scrape_at=moment, last_scrape_error=""
            )
        self._mark_cells(states)

    @staticmethod
    def _live_brokers(pks: list[int]) -> QuerySet[Broker]:
        return Broker.objects.filter(pk__in=pks).exclude(state=Broker.State.UNREGISTERED)

    @staticmethod
    def _mark_cells(broker_states: list[tuple[int, str]]) -> None:
        """A cell is HEALTHY with every scraped broker up, DOWN with none, DEGRADED between."""
        states: dict[int, list[str]] = {}
        for cell_id, state in broker_states:
            states.setdefault(cell_id, []).append(state)
        for cell_id, cell_states in states.items():
            up = sum(1 for state in cell_states if state == Broker.State.UP)
            health = (
                Cell.State.HEALTHY
                if up == len(cell_states)
                else Cell.State.DOWN
                if up == 0
                else Cell.State.DEGRADED
            )
            Cell.objects.filter(pk=cell_id).exclude(state=health).update(state=health)

    def _accumulate(self, key: UsageKey, deltas: dict[str, int], storage: int) -> None:
        totals = self._totals.get(key)
        if totals is None:
            totals = self._totals[key] = _MinuteTotals()
            self._dirty.add(key)
        if any(deltas.values()) or totals.storage_bytes != storage:
            self._dirty.add(key)
        totals.add(deltas)
        totals.storage_bytes = storage

    def flush(
        self,
        moment: dt.datetime,
        targets: list[BrokerTarget],
        snapshots: dict[int, dict[str, dict]],
    ) -> int:
        """Write dirty minute rows, the checkpoint and the snapshots in one transaction."""
        dirty = sorted(self._dirty, key=lambda k: (k[2], k[0], k[1]))
        rows: dict[UsageKey, _MinuteTotals] = {}
        with transaction.atomic():
            unseeded = [k for k in dirty if k not in self._seeded]
            existing: dict[UsageKey, TopicMinuteUsage] = {}
            if unseeded:
                # Rows of these minutes written by an earlier sampler process (restart within
                # the minute): their deltas are part of the total we SET.
                for stored in TopicMinuteUsage.objects.filter(
                    cluster_id__in={k[0] for k in unseeded},
                    minute__in={k[2] for k in unseeded},
                    topic__in={k[1] for k in unseeded},
                ):
                    existing[(stored.cluster_id, stored.topic, stored.minute)] = stored
            live_ids = tenant_directory().existing_tenants(tenant_ids={k[0] for k in dirty})
            for key in dirty:
                if key[0] not in live_ids:
                    continue
                totals = self._totals[key]
                row = existing.get(key) if key not in self._seeded else None
                merged = _MinuteTotals(
                    bytes_in=totals.bytes_in + (row.bytes_in if row else 0),
                    bytes_out=totals.bytes_out + (row.bytes_out if row else 0),
                    messages_in=totals.messages_in + (row.messages_in if row else 0),
                    storage_bytes=totals.storage_bytes,
                )
                rows[key] = merged
            if rows:
                TopicMinuteUsage.objects.bulk_create(
                    [
                        TopicMinuteUsage(
                            cluster_id=cluster_id,
                            topic=topic,
                            minute=minute,
                            bytes_in=t.bytes_in,
                            bytes_out=t.bytes_out,
                            messages_in=t.messages_in,
                            storage_bytes=t.storage_bytes,
                        )
                        for (cluster_id, topic, minute), t in rows.items()
                    ],
                    update_conflicts=True,
                    unique_fields=["cluster", "topic", "minute"],
                    update_fields=[
                        "bytes_in",
                        "bytes_out",
                        "messages_in",
                        "storage_bytes",
                        "updated_at",
                    ],
                )
            by_cell: dict[int, dict[str, dict]] = {}
            for target in targets:
                counters = self.tracker.checkpoint((target.cell_id, target.node_id))
                if counters:
                    by_cell.setdefault(target.cell_id, {})[str(target.node_id)] = counters
            for cell_id, raw in by_cell.items():
                if self._checkpointed.get(cell_id) == raw:
                    continue  # a quiet cell: the stored checkpoint already says this
                encoded = {node: encode_counters(counters) for node, counters in raw.items()}
                SamplerCheckpoint.objects.update_or_create(
                    cell_id=cell_id, defaults={"counters": encoded, "taken_at": moment}
                )
            for cell_id, clusters in snapshots.items():
                ThroughputSnapshot.objects.update_or_create(
                    cell_id=cell_id, defaults={"clusters": clusters, "taken_at": moment}
                )
        # Committed: the in-memory totals now include the rows' earlier values.
        self._checkpointed.update(by_cell)
        for key, merged in rows.items():
            self._totals[key] = merged
        self._seeded |= set(dirty)
        self._dirty.clear()
        # Closed minutes are final once flushed: forget them.
        current = minute_of(moment)
        for key in [k for k in self._totals if k[2] < current]:
            del self._totals[key]
            self._seeded.discard(key)
        return len(rows)


# --- running it --------------------------------------------------------------------------------


def run_sampler_loop(
    *,
    interval: float | None = None,
    stop: threading.Event | None = None,
    sampler: Sampler | None = None,
    max_passes: int | None = None,
) -> None:
    """Run passes at a fixed rate (start to start) until `stop` is set."""
    interval = settings.SKIFF_SAMPLER_INTERVAL if interval is None else interval
    stop = stop or threading.Event()
    own_publisher = sampler is None
    sampler = sampler or Sampler(
        publisher=Publisher(heartbeat=settings.SKIFF_SAMPLER_HEARTBEAT or None),
        flush_every=settings.SKIFF_SAMPLER_FLUSH_INTERVAL,
    )
    passes = 0
    next_at = time.monotonic()
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = sampler.run_once()
                took = time.monotonic() - started
                if took > interval:
                    logger.warning(
                        "sampler pass took %.1fs, longer than the %.1fs interval "
                        "(%d brokers, slowest answer %.1fs)",
                        took,
                        interval,
                        result.scraped,
                        result.scrape_seconds,
                    )
            except Exception:  # a failed pass (database restart…) must not end the loop
                logger.exception("sampler pass failed")
            finally:
                close_old_connections()
            passes += 1
            if max_passes is not None and passes >= max_passes:
                break
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:  # a pass took longer than the interval: skip, don't pile up
                next_at = time.monotonic()
                delay = 0
            stop.wait(delay)
    finally:
        try:
            sampler.flush_pending()
        except Exception:  # the database is gone: the checkpoint on disk still agrees
            logger.exception("writing the sampler's last rows failed")
        if own_publisher and sampler.publisher is not None:
            sampler.publisher.close()


class SamplerThread(threading.Thread):
    """The embedded default: the sampler loop in a daemon thread of the web process."""

    def __init__(self, interval: float | None = None) -> None:
        super().__init__(name="skiff-sampler", daemon=True)
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        from django.db import connections

        try:
            run_sampler_loop(interval=self.interval, stop=self._stop_event)
        finally:
            connections.close_all()  # this thread's connections: nobody else will close them

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.join(timeout)
