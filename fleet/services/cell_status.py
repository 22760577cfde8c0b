"""What a cell looks like right now (issue 14): the live half of the cell and broker pages.

One call, `cell_status(cell)`, reads the cell through the platform's super-user connection and
its brokers' metrics endpoints, section by section. A section that cannot be read (a broker
down, the quorum not answering, an endpoint behind a firewall) carries its own error message
and the others are still shown: the page of a sick cell is the one staff need most.

Health signals (each one a line of `CellStatus.problems`, and docs/fleet.md explains them):

* **unreachable** — the admin connection failed: nothing else is known;
* **broker down** — a broker recorded for the cell is not registered with the controller (not
  running, or it lost its session), or is *fenced* (registered but not heartbeating);
* **no quorum leader** / **quorum lag** — the KRaft metadata quorum has no leader, or a voter is
  more than `QUORUM_LAG_WARN` records behind the leader;
* **under-replicated** — a partition whose in-sync replicas are fewer than its replicas;
* **offline** — a partition without a leader: clients can neither produce nor consume;
* **under min ISR** — in-sync replicas below the cell's min.insync.replicas (acks=all writes
  are refused);
* **metrics** — a broker's metrics endpoint did not answer (rates unknown; the sampler's own
  last scrape is on the broker row).

Rates per broker are the broker-wide BytesIn/BytesOut counters of two consecutive reads (this
module keeps the previous read per broker in memory, per process): the first read of a page
shows no rate, the next one (the page refreshes itself) does.
"""

from __future__ import annotations

import base64
import concurrent.futures
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from console.errors import ApplicationError
from fleet import limits
from fleet.kafka import brokers as kafka_brokers
from fleet.kafka.logdirs import BrokerLogUsage
from fleet.kafka.platform import platform_superuser
from fleet.kafka.topics import list_topics
from fleet.kafka.types import TopicDescription
from fleet.models import Broker, Cell
from fleet.services.sampler import metrics_credentials

T = TypeVar("T")

QUORUM_LAG_WARN = 1000
METRICS_TIMEOUT = 3.0
_RATE_FAMILIES = (
    "kafka_server_brokertopicmetrics_bytesinpersec",
    "kafka_server_brokertopicmetrics_bytesoutpersec",
)
MAX_METRICS_BYTES = 8 * 1024 * 1024


@dataclass
class BrokerStatus:
    node_id: int
    pk: int | None  # the Broker row, None for a broker Kafka knows and the database does not
    host: str
    port: int
    rack: str
    roles: str
    recorded_state: str  # Broker.state, as the sampler and operations left it
    registered: bool | None = None  # in the controller's broker list (None: unknown)
    fenced: bool | None = None
    is_quorum_voter: bool = False
    replicas: int | None = None  # partition replicas it holds
    leaders: int | None = None  # partitions it leads
    log_bytes: int | None = None
    disk_total_bytes: int | None = None
    disk_usable_bytes: int | None = None
    bytes_in_per_sec: float | None = None
    bytes_out_per_sec: float | None = None
    metrics_error: str = ""
    last_scrape_at: Any = None
    last_scrape_error: str = ""

    @property
    def status(self) -> str:
        """up, down, fenced or unregistered: what the pages show as its badge."""
        if self.recorded_state == Broker.State.UNREGISTERED:
            return "unregistered"
        if self.fenced:
            return "fenced"
        if self.registered is False:
            return "down"
        if self.recorded_state == Broker.State.DOWN and self.metrics_error:
            # The sampler's last scrape failed and so did ours: a broker killed a moment ago is
            # still registered (unfenced) until its controller session times out.
            return "down"
        if self.registered is None:
            return self.recorded_state
        return "up"

    @property
    def disk_fraction(self) -> float | None:
        if self.log_bytes is None or not self.disk_total_bytes:
            return None
        return self.log_bytes / self.disk_total_bytes


@dataclass
class QuorumVoter:
    node_id: int
    log_end_offset: int
    lag: int | None
    is_leader: bool


@dataclass
class CellStatus:
    cell: Cell
    reachable: bool = False
    error: str = ""
    controller_id: int | None = None
    brokers: list[BrokerStatus] = field(default_factory=list)
    quorum_leader_id: int | None = None
    quorum_voters: list[QuorumVoter] = field(default_factory=list)
    quorum_observers: list[int] = field(default_factory=list)
    quorum_error: str = ""
    topics: int = 0
    partitions: int = 0
    under_replicated: list[tuple[str, int]] = field(default_factory=list)
    offline: list[tuple[str, int]] = field(default_factory=list)
    under_min_isr: list[tuple[str, int]] = field(default_factory=list)
    min_isr: int = 1
    disk_error: str = ""
    metrics_error: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def health(self) -> str:
        """healthy, degraded or down: down when unreachable or a partition is offline."""
        if not self.reachable or self.offline:
            return "down"
        return "degraded" if self.problems else "healthy"

    @property
    def replica_skew(self) -> int | None:
        counts = [b.replicas for b in self.brokers if b.replicas is not None and b.status == "up"]
        return max(counts) - min(counts) if counts else None

    @property
    def leader_skew(self) -> int | None:
        counts = [b.leaders for b in self.brokers if b.leaders is not None and b.status == "up"]
        return max(counts) - min(counts) if counts else None

    def broker(self, node_id: int) -> BrokerStatus | None:
        return next((b for b in self.brokers if b.node_id == node_id), None)


def _section(run: Callable[[], T]) -> tuple[T | None, str]:
    """Run one read; a failure becomes its message (the other sections still run)."""
    try:
        return run(), ""
    except ApplicationError as exc:
        return None, exc.message
    except (OSError, ValueError, KeyError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _brokers_module() -> Any:
    """fleet.kafka.brokers: describe_brokers (fenced ones too) and describe_quorum."""
    return kafka_brokers


def cell_status(cell: Cell) -> CellStatus:
    """The cell as it is now: brokers, quorum, partitions, disk, rates, problems."""
    status = CellStatus(cell=cell)
    rows = {b.node_id: b for b in cell.brokers.all()}
    for node_id, row in sorted(rows.items()):
        status.brokers.append(
            BrokerStatus(
                node_id=node_id,
                pk=row.pk,
                host=row.host,
                port=row.port,
                rack=row.rack,
                roles=row.roles,
                recorded_state=row.state,
                last_scrape_at=row.last_scrape_at,
                last_scrape_error=row.last_scrape_error,
            )
        )
    superuser = None
    try:
        superuser = platform_superuser(cell)
        description = superuser.describe_cluster()
    except ApplicationError as exc:
        status.error = exc.message
    except Exception as exc:
        status.error = f"the admin client could not be made ({exc})"
    if superuser is None or status.error:
        status.problems.append(f"unreachable: {status.error}")
        _read_rates(cell, status)
        return status
    status.reachable = True
    status.controller_id = description.controller_id
    connection = superuser.connection

    # Registered and fenced brokers (fenced ones only DescribeCluster v2 lists).
    module = _brokers_module()
    described = None
    if module is not None:
        described, _ = _section(lambda: module.describe_brokers(connection))
    registered = {b.node_id: b for b in (described or description.brokers)}
    for node_id, b in registered.items():
        if status.broker(node_id) is None:
            status.brokers.append(
                BrokerStatus(
                    node_id=node_id,
                    pk=None,
                    host=b.host,
                    port=b.port,
                    rack=b.rack or "",
                    roles="",
                    recorded_state="up",
                )
            )
    for broker in status.brokers:
        found = registered.get(broker.node_id)
        broker.registered = found is not None
        broker.fenced = bool(getattr(found, "fenced", False)) if found else None
        if found is not None and found.rack:
            broker.rack = found.rack
    status.brokers.sort(key=lambda b: b.node_id)

    # The controller quorum.
    if module is None:
        status.quorum_error = "Not available: this installation cannot describe the quorum yet."
    else:
        quorum, status.quorum_error = _section(lambda: module.describe_quorum(connection))
        if quorum is not None:
            status.quorum_leader_id = quorum.leader_id
            status.quorum_voters = [
                QuorumVoter(v.node_id, v.log_end_offset, v.lag, v.node_id == quorum.leader_id)
                for v in quorum.voters
            ]
            status.quorum_observers = [o.node_id for o in quorum.observers]
            for broker in status.brokers:
                broker.is_quorum_voter = broker.node_id in quorum.voter_ids

    # Partitions and leaders (internal topics too: they load the brokers as well).
    topics, topics_error = _section(lambda: list_topics(connection, include_internal=True))
    if topics is not None:
        _count_partitions(status, topics)
    else:
        status.problems.append(f"partitions unknown: {topics_error}")

    # Disk (DescribeLogDirs).
    usage, status.disk_error = _section(superuser.broker_log_usage)
    for broker in status.brokers:
        found_usage: BrokerLogUsage | None = (usage or {}).get(broker.node_id)
        if found_usage is not None:
            broker.log_bytes = found_usage.log_bytes
            broker.disk_total_bytes = found_usage.total_bytes
            broker.disk_usable_bytes = found_usage.usable_bytes

    _read_rates(cell, status)
    _judge(status)
    return status


def _count_partitions(status: CellStatus, topics: dict[str, TopicDescription]) -> None:
    serving = sum(1 for b in status.brokers if b.recorded_state != Broker.State.UNREGISTERED)
    _, status.min_isr = limits_min_isr(serving)
    replicas: dict[int, int] = {}
    leaders: dict[int, int] = {}
    status.topics = len(topics)
    for topic in topics.values():
        for p in topic.partitions:
            status.partitions += 1
            for replica in p.replicas:
                replicas[replica] = replicas.get(replica, 0) + 1
            if p.leader < 0:
                status.offline.append((topic.name, p.id))
            else:
                leaders[p.leader] = leaders.get(p.leader, 0) + 1
            if len(p.isr) < len(p.replicas):
                status.under_replicated.append((topic.name, p.id))
            if len(p.replicas) >= status.min_isr and len(p.isr) < status.min_isr:
                status.under_min_isr.append((topic.name, p.id))
    for broker in status.brokers:
        broker.replicas = replicas.get(broker.node_id, 0)
        broker.leaders = leaders.get(broker.node_id, 0)


def limits_min_isr(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of tenant topics on a cell of that size."""
    rf = limits.cell_replication_factor(brokers)
    return rf, 2 if rf >= 3 else 1


def _judge(status: CellStatus) -> None:
    for broker in status.brokers:
        if broker.status in ("down", "fenced"):
            status.problems.append(f"broker {broker.node_id} is {broker.status}")
    if status.quorum_voters and (status.quorum_leader_id is None or status.quorum_leader_id < 0):
        status.problems.append("the controller quorum has no leader")
    for voter in status.quorum_voters:
        if voter.lag is not None and voter.lag > QUORUM_LAG_WARN:
            status.problems.append(f"controller {voter.node_id} is {voter.lag:,} records behind")
    if status.offline:
        status.problems.append(f"{len(status.offline)} partitions offline (no leader)")
    if status.under_replicated:
        status.problems.append(f"{len(status.under_replicated)} partitions under-replicated")
    if status.under_min_isr:
        status.problems.append(
            f"{len(status.under_min_isr)} partitions under min ISR ({status.min_isr})"
        )
    unreachable = [b.node_id for b in status.brokers if b.metrics_error and b.status == "up"]
    if unreachable:
        status.problems.append(
            "metrics endpoint not answering on broker " + ", ".join(map(str, unreachable))
        )


# --- per-broker rates from the metrics endpoints ------------------------------------------------

_previous: dict[tuple[int, int], tuple[float, float, float]] = {}
_previous_lock = threading.Lock()


def _fetch_totals(url: str, auth: tuple[str, str] | None) -> tuple[float, float]:
    """Broker-wide BytesIn and BytesOut counters (the series without a topic label)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query += [("name[]", family + "_total") for family in _RATE_FAMILIES]
    request = urllib.request.Request(  # noqa: S310
        urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query))),
        headers={"Accept": "text/plain"},
    )
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=METRICS_TIMEOUT) as response:  # noqa: S310
        text = response.read(MAX_METRICS_BYTES).decode("utf-8", errors="replace")
    totals = {family: 0.0 for family in _RATE_FAMILIES}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.name.removesuffix("_total")
            if name in totals and "topic" not in sample.labels:
                totals[name] += float(sample.value)
    return totals[_RATE_FAMILIES[0]], totals[_RATE_FAMILIES[1]]


def _read_rates(cell: Cell, status: CellStatus) -> None:
    auth = metrics_credentials([cell.pk]).get(cell.pk)
    recorded = dict(cell.brokers.values_list("node_id", "metrics_url"))
    urls = {
        b.node_id: recorded[b.node_id]
        for b in status.brokers
        if recorded.get(b.node_id) and b.recorded_state != Broker.State.UNREGISTERED
    }
    if not urls:
        status.metrics_error = "No metrics endpoint is recorded for this cell's brokers."
        return

    def read(node_id: int) -> tuple[int, float, tuple[float, float] | None, str]:
        try:
            return node_id, time.monotonic(), _fetch_totals(urls[node_id], auth), ""
        except (OSError, urllib.error.URLError, ValueError) as exc:
            return node_id, time.monotonic(), None, str(exc) or type(exc).__name__

    workers = min(16, len(urls))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="skiff-status") as pool:
        results = list(pool.map(read, sorted(urls)))
    for node_id, at, totals, error in results:
        broker = status.broker(node_id)
        if broker is None:
            continue
        if totals is None:
            broker.metrics_error = error
            continue
        key = (cell.pk, node_id)
        with _previous_lock:
            before = _previous.get(key)
            _previous[key] = (at, *totals)
        if before is None:
            continue
        seconds = at - before[0]
        if seconds <= 0.5 or totals[0] < before[1] or totals[1] < before[2]:
            continue  # too close to compare, or a restarted broker's counters
        broker.bytes_in_per_sec = (totals[0] - before[1]) / seconds
        broker.bytes_out_per_sec = (totals[1] - before[2]) / seconds
