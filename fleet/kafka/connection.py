"""Connections to a cell, the admin-client cache and the librdkafka/kafka-python plumbing.

Admin calls reuse a small per-connection cache of admin clients (see _AdminClientCache);
producers and consumers are short-lived, one per call.

librdkafka retries authentication and connection failures forever and only reports them through
``error_cb``; every wait loop here polls that callback so a wrong password or an untrusted
certificate fails within a fraction of a second instead of at the timeout."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from confluent_kafka import (
    Consumer,
    KafkaError,
    Producer,
)
from confluent_kafka.admin import (
    AclOperation,
    AdminClient,
)

from fleet.kafka.errors import (
    _AUTHENTICATION,
    CellTimeout,
    KafkaAuthenticationFailed,
    KafkaGatewayError,
    KafkaTlsError,
    KafkaUnavailable,
    _from_exception,
    _from_kafka_error,
    _from_kafka_python,
    _map_error,
    _short,
)

log = logging.getLogger(__name__)


class _LibrdkafkaLog:
    """Receives librdkafka's log lines (``logger`` config) instead of them going to stderr.

    They are logged at DEBUG: every failure that matters reaches the caller as one of our
    exceptions, while librdkafka would print a line per reconnect attempt (dozens per second
    while a broker starts).
    """

    _logger = logging.getLogger("fleet.kafka.librdkafka")

    def log(self, _level: int, msg: str, *args: object) -> None:
        self._logger.debug(msg, *args)


_librdkafka_log = _LibrdkafkaLog()


T = TypeVar("T")


@dataclass(frozen=True)
class KafkaConnection:
    """How to reach a cell, and as whom."""

    bootstrap: str
    username: str | None
    password: str | None = field(repr=False)
    ca_path: str | Path | None  # a cell's `ca_path` (text) or a Path; read through str()
    mechanism: str = "SCRAM-SHA-512"
    timeout: float = 15.0
    # SASL_SSL for everything the platform does; other values exist for tests and diagnostics
    # (e.g. proving that an unauthenticated TLS client is refused).
    security_protocol: str = "SASL_SSL"
    # The cell's name, for messages a user reads ("cell 'cell-1' did not answer within 10 s").
    cell_name: str = ""


class _ErrorTrap:
    """Collects client-level errors from librdkafka's error_cb.

    Authentication and TLS errors are final (retrying the same credentials cannot help), so they
    abort the current call at once. Transport errors are remembered and only reported if the
    call runs out of time, because librdkafka fails over to other brokers on its own.
    """

    _FATAL = _AUTHENTICATION | {"_SSL", "_FATAL", "_INVALID_ARG"}

    def __init__(self, cell: str = "", timeout: float | None = None) -> None:
        # The connection's cell and timeout, for the messages of the errors this trap raises.
        self.cell = cell
        self.timeout = timeout
        self._lock = threading.Lock()
        self.fatal: KafkaError | None = None
        self.last: KafkaError | None = None

    def __call__(self, err: KafkaError) -> None:
        with self._lock:
            self.last = err
            if err.name() in self._FATAL and self.fatal is None and not _is_transient(err):
                self.fatal = err

    def reset(self) -> None:
        with self._lock:
            self.fatal = None
            self.last = None

    def raise_if_fatal(self, context: str) -> None:
        if self.fatal is not None:
            raise self.error(self.fatal, context)

    def error(self, err: KafkaError, context: str) -> KafkaGatewayError:
        """`err` as one of our errors, naming this trap's cell where the message needs it."""
        return _from_kafka_error(err, context, cell=self.cell, timeout=self.timeout)

    def timeout_error(self, context: str, timeout: float) -> KafkaGatewayError:
        """The call ran out of time: a CellTimeout (504) naming the cell and the timeout.

        The last client-level error (e.g. a refused connection) goes to the error's detail,
        for the logs; a final one (authentication, TLS) is raised as itself.
        """
        if self.last is not None:
            err = self.error(self.last, context)
            if not isinstance(err, KafkaUnavailable):
                return err
            return CellTimeout(
                context,
                cell=self.cell,
                timeout=timeout,
                kafka_error=self.last.name(),
                detail=f"{self.last.name()}: {_short(self.last.str())}",
            )
        return CellTimeout(context, cell=self.cell, timeout=timeout)


def _is_transient(err: KafkaError) -> bool:
    # A broker that shuts down in the middle of a SASL exchange is reported as an
    # authentication error by librdkafka; the credentials were not rejected.
    text = err.str().lower()
    return "disconnect" in text or "timed out" in text or "connection reset" in text


# The time left for everything one request (a page, an API call) asks of the cells: set by
# `call_budget` (clusters.middleware wraps every request in SKIFF_KAFKA_TIMEOUT), read by every
# deadline below. A request that makes several calls to a slow cell answers within the budget,
# not within one timeout per call. None: no budget (tasks, the sampler, tests' own calls).
_budget_end: ContextVar[float | None] = ContextVar("skiff_kafka_budget_end", default=None)


@contextmanager
def call_budget(seconds: float) -> Iterator[None]:
    """Every Kafka call made inside shares `seconds` (nested budgets only shorten it)."""
    end = time.monotonic() + seconds
    current = _budget_end.get()
    token = _budget_end.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _budget_end.reset(token)


def budget_remaining(timeout: float) -> float:
    """`timeout`, or less when the request's budget ends sooner (never below zero)."""
    end = _budget_end.get()
    if end is None:
        return timeout
    return max(0.0, min(timeout, end - time.monotonic()))


def any_broker_read(conn: KafkaConnection, read: Callable[[], T], *, tries: int = 3) -> T:
    """A read that any broker can answer, tried up to `tries` times, each within its share of
    the connection's timeout (and of the request's budget).

    librdkafka sends such a request to one broker of its choosing; a broker that is stopped but
    still connected (a hung JVM) keeps it until the timeout. Asking again, on a shorter clock,
    lets another broker answer: the periodic repairs go on with the brokers that answer.
    """
    share = max(1.0, conn.timeout / tries)
    for attempt in range(tries):
        with call_budget(share):
            try:
                return read()
            except CellTimeout:
                if attempt == tries - 1 or budget_remaining(conn.timeout) <= 0:
                    raise
                # librdkafka keeps sending to the broker it is connected to: a fresh client
                # connects anew and may reach another one.
                _admin_clients.drop(conn)
    raise AssertionError("unreachable")


def _setup_timeout_ms(timeout: float) -> int:
    # Setting up one broker connection (TCP, TLS, SASL) gets a share of the call's time: a
    # stopped broker accepts the TCP connection (the kernel does) and then never answers, and
    # the client must move on to the brokers that do while the call still has time.
    return int(max(3000, min(timeout * 1000 / 3, 10_000)))


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._end = time.monotonic() + budget_remaining(timeout)

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


def _base_config(conn: KafkaConnection, trap: _ErrorTrap, client_id: str) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": conn.bootstrap,
        "client.id": client_id,
        "security.protocol": conn.security_protocol,
        "error_cb": trap,
        "logger": _librdkafka_log,
        "socket.connection.setup.timeout.ms": _setup_timeout_ms(conn.timeout),
        # Reconnect quickly: during a broker restart the call should move on within a second.
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
    }
    if "SASL" in conn.security_protocol:
        conf.update(
            {
                "sasl.mechanism": conn.mechanism,
                "sasl.username": conn.username or "",
                "sasl.password": conn.password or "",
            }
        )
    if "SSL" in conn.security_protocol:
        conf["ssl.endpoint.identification.algorithm"] = "https"
        if conn.ca_path is not None:
            conf["ssl.ca.location"] = str(conn.ca_path)
    return conf


class _AdminClientCache:
    """Admin clients reused across calls, per connection (LRU, a handful of entries).

    A fresh librdkafka client costs a TLS + SCRAM handshake and a metadata round trip per call
    (~0.2 s on a busy 2-core host); a warm one answers in milliseconds. A client that hit an
    authentication or TLS failure is dropped, so a fixed credential or CA takes effect at once.
    librdkafka handles are not fork-safe: after a fork (Celery prefork workers) the inherited
    clients are abandoned — never used, never destroyed — and new ones are made.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._clients: OrderedDict[KafkaConnection, tuple[AdminClient, _ErrorTrap]] = OrderedDict()
        self._pid = os.getpid()
        self._abandoned: list[object] = []
        self.created = 0  # clients made since start (a test counts them)

    def get(self, conn: KafkaConnection) -> tuple[AdminClient, _ErrorTrap]:
        with self._lock:
            if os.getpid() != self._pid:
                self._abandoned.extend(self._clients.values())
                self._clients.clear()
                self._pid = os.getpid()
            entry = self._clients.get(conn)
            if entry is not None and entry[1].fatal is None:
                self._clients.move_to_end(conn)
                return entry
            trap = _ErrorTrap(cell=conn.cell_name, timeout=conn.timeout)
            admin = AdminClient(_base_config(conn, trap, "skiff-admin"))
            self.created += 1
            self._clients[conn] = (admin, trap)
            while len(self._clients) > self._size:
                self._clients.popitem(last=False)
            return admin, trap

    def discard(self, conn: KafkaConnection, admin: AdminClient) -> None:
        with self._lock:
            entry = self._clients.get(conn)
            if entry is not None and entry[0] is admin:
                del self._clients[conn]

    def drop(self, conn: KafkaConnection) -> None:
        """Forget this connection's client: the next call makes a fresh one."""
        with self._lock:
            self._clients.pop(conn, None)

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()


_admin_clients = _AdminClientCache()


def close_clients() -> None:
    """Drop every cached admin client (tests, shutdown, after changing a cell's credentials).

    A cached client keeps the connections it authenticated, even after its user was deleted
    (until the broker's ``connections.max.reauth.ms``); producers and consumers never do.
    """
    _admin_clients.clear()
    _kafka_python_clients.clear()


@contextmanager
def _admin(conn: KafkaConnection) -> Iterator[tuple[AdminClient, _ErrorTrap, _Deadline]]:
    admin, trap = _admin_clients.get(conn)
    # Errors reported between calls (e.g. a broker restarting while the client sat idle) are
    # queued until the next poll: drain them, so they cannot fail or explain this call.
    admin.poll(0)
    trap.reset()
    try:
        yield admin, trap, _Deadline(conn.timeout)
    except (KafkaAuthenticationFailed, KafkaTlsError):
        _admin_clients.discard(conn, admin)
        raise
    except CellTimeout as exc:
        # A future that failed with _TIMED_OUT was mapped without the connection: name the
        # cell and the timeout (a user reads "Cell 'cell-1' did not answer within 10 s").
        named = exc.named(conn.cell_name, conn.timeout)
        if named is exc:
            raise
        raise named from exc


# While a call waits for a cell, the caller's thread needs no CPU. A console plugs in here what
# lets other requests run meanwhile (console/request_turns.py, set in console.asgi): the
# gateway stays free of console code, and outside a console nothing changes.
_waiting_for_the_cell: Callable[[], AbstractContextManager[Any]] = nullcontext


def set_cell_wait_hook(hook: Callable[[], AbstractContextManager[Any]]) -> None:
    """Enter `hook()` around every wait for a cell's answer (admin and kafka-python calls,
    producing and reading messages)."""
    global _waiting_for_the_cell
    _waiting_for_the_cell = hook


def _cell_wait() -> AbstractContextManager[Any]:
    return _waiting_for_the_cell()


def _await(
    admin: AdminClient | Producer | Consumer,
    trap: _ErrorTrap,
    deadline: _Deadline,
    futures: Iterable[concurrent.futures.Future[Any]],
    context: str,
) -> None:
    """Wait for futures while serving error_cb so auth/TLS failures abort early."""
    pending = set(futures)
    with _cell_wait():
        while pending:
            trap.raise_if_fatal(context)
            if deadline.expired:
                raise trap.timeout_error(context, deadline.timeout)
            _done, pending = concurrent.futures.wait(
                pending, timeout=min(0.1, deadline.remaining())
            )
            admin.poll(0)
    trap.raise_if_fatal(context)


def _result(future: concurrent.futures.Future[T], context: str) -> T:
    try:
        return future.result(timeout=0)
    except Exception as exc:  # the future carries KafkaException; map it
        raise _from_exception(exc, context) from exc


def _require_cluster_permission(
    admin: AdminClient, trap: _ErrorTrap, deadline: _Deadline, operation: str, context: str
) -> None:
    """Fail with KafkaAuthorizationFailed unless the principal may do ``operation`` on CLUSTER.

    Works around two confluent-kafka 2.16.1 / librdkafka 2.16.0 bugs, both seen against Kafka
    4.3: DescribeAcls answered with CLUSTER_AUTHORIZATION_FAILED is reported as an empty list,
    and DescribeUserScramCredentials answered with that error aborts the whole process
    ("munmap_chunk(): invalid pointer"). So ask first (one cheap DescribeCluster round trip).
    """
    future = admin.describe_cluster(
        include_authorized_operations=True, request_timeout=_request_timeout(deadline)
    )
    _await(admin, trap, deadline, [future], context)
    allowed = _result(future, context).authorized_operations or ()
    if AclOperation[operation] not in allowed and AclOperation.ALL not in allowed:
        raise _map_error("CLUSTER_AUTHORIZATION_FAILED", "", context)


def _request_timeout(deadline: _Deadline) -> float:
    # librdkafka rejects a zero timeout; the outer deadline is what really bounds the call.
    return max(0.5, deadline.remaining())


_kafka_python_imported = threading.Event()
_kafka_python_import_lock = threading.Lock()


def _import_kafka_python() -> None:
    """Import kafka-python once, hiding its import-time DeprecationWarnings.

    kafka-python 3.0 builds ~100 protocol classes from JSON schemas at import and uses the
    deprecated ``importlib.resources.read_text`` for each; only the import is silenced.

    One thread imports; the others wait until the whole package is in: `kafka.admin` is in
    sys.modules as soon as its import *starts*, and a second thread that went on to import
    `kafka.protocol.admin` then met the first one's half-done imports (Python's
    "_DeadlockError: deadlock detected by _ModuleLock('kafka.protocol.admin')", a 500 on one
    of 20 cluster creates sent at once to a console just started, issue 20).
    """
    if _kafka_python_imported.is_set():
        return
    with _kafka_python_import_lock:
        if _kafka_python_imported.is_set():
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import kafka.admin
            import kafka.protocol.admin  # noqa: F401
        _kafka_python_imported.set()


def preload_kafka_python(*, wait: bool = False) -> None:
    """Import kafka-python now rather than in the first call that needs it: a server's first
    cluster create otherwise pays ~0.2 s of CPU for the import (provisioning sets quotas and
    credentials through it; issue 20). In a thread of its own, unless `wait`: a process that
    freezes its startup objects next (console/heap.py) wants the import done first."""
    if wait:
        _import_kafka_python()
        return
    threading.Thread(target=_import_kafka_python, name="skiff-preload", daemon=True).start()


def _kafka_python_admin(conn: KafkaConnection, *, timeout: float | None = None) -> Any:
    _import_kafka_python()
    from kafka.admin import KafkaAdminClient

    class _AdminClient(KafkaAdminClient):
        # kafka-python's connection manager reads these, but its admin client refuses any
        # key it does not list itself: list them, so they reach the manager.
        DEFAULT_CONFIG = {
            **KafkaAdminClient.DEFAULT_CONFIG,
            "socket_connection_setup_timeout_ms": 10_000,
            "socket_connection_setup_timeout_max_ms": 30_000,
        }

    timeout_ms = max(1000, int((conn.timeout if timeout is None else timeout) * 1000))
    configs: dict[str, Any] = {
        "bootstrap_servers": conn.bootstrap.split(","),
        "client_id": "skiff-admin-kp",
        "security_protocol": conn.security_protocol,
        "request_timeout_ms": timeout_ms,
        "bootstrap_timeout_ms": timeout_ms,
        # Bootstrap moves on from a broker that accepts and never answers (a stopped one).
        "socket_connection_setup_timeout_ms": _setup_timeout_ms(conn.timeout),
        "socket_connection_setup_timeout_max_ms": _setup_timeout_ms(conn.timeout),
        "reconnect_backoff_max_ms": 1000,
    }
    if "SASL" in conn.security_protocol:
        configs.update(
            sasl_mechanism=conn.mechanism,
            sasl_plain_username=conn.username,
            sasl_plain_password=conn.password,
        )
    if "SSL" in conn.security_protocol:
        configs.update(
            ssl_check_hostname=True, ssl_cafile=str(conn.ca_path) if conn.ca_path else None
        )
    return _AdminClient(**configs)


class _KafkaPythonClient:
    """One cached kafka-python admin client and the calls using it right now."""

    __slots__ = ("admin", "last_used", "retired", "users")

    def __init__(self, admin: Any) -> None:
        self.admin = admin
        self.users = 0
        self.retired = False
        self.last_used = time.monotonic()


class _KafkaPythonClientCache:
    """kafka-python admin clients reused across calls, per connection (LRU, a handful).

    A fresh client costs two TLS + SCRAM handshakes (bootstrap, then the broker it sends to)
    and a metadata round trip: ~35 ms of CPU and ~150 ms on a busy 2-core host, for a request
    that then takes ~2 ms of CPU on a warm connection. Provisioning sets every new cluster's
    quotas this way, and the reconciler reads and repairs them, so they reuse a client
    (`_kafka_python_call(..., reuse=True)`); calls aimed at one broker while another may be
    stopped (log dirs, quorum, reassignments) keep making fresh ones.

    kafka-python 3 runs a client's IO in its own daemon thread and lets several threads call
    it at once. A client is retired (closed once its last call returns) when a call through it
    failed other than by a broker's answer (a connection, timeout or authentication error) or
    ran out of time, so the next call connects anew — to the brokers that answer, with the
    credentials of now. One unused for IDLE_SECONDS is closed at the next call (an idle client
    would otherwise refresh metadata, and log each failure, while its cell is down). After a
    fork (Celery prefork) the inherited clients are abandoned, never closed: their sockets
    belong to the parent.
    """

    IDLE_SECONDS = 120.0

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._clients: OrderedDict[KafkaConnection, _KafkaPythonClient] = OrderedDict()
        self._pid = os.getpid()
        self._abandoned: list[object] = []
        self.created = 0  # clients made since start (a test counts them)

    def acquire(self, conn: KafkaConnection) -> _KafkaPythonClient:
        with self._lock:
            self._forget_after_fork()
            idle_since = time.monotonic() - self.IDLE_SECONDS
            idle = [
                (c, e)
                for c, e in self._clients.items()
                if e.users == 0 and e.last_used < idle_since
            ]
            for c, e in idle:
                e.retired = True
                del self._clients[c]
            entry = self._clients.get(conn)
            if entry is not None:
                self._clients.move_to_end(conn)
                entry.users += 1
        self._close_idle([e for _, e in idle])
        if entry is not None:
            return entry
        # Connect outside the lock: a bootstrap takes a while and other cells' calls go on.
        entry = _KafkaPythonClient(_kafka_python_admin(conn))
        retired: list[_KafkaPythonClient] = []
        with self._lock:
            self.created += 1
            entry.users = 1
            other = self._clients.get(conn)
            if other is not None:  # another thread connected meanwhile: keep one
                entry.retired = True
                other.users += 1
                self._clients.move_to_end(conn)
                chosen = other
            else:
                self._clients[conn] = entry
                chosen = entry
                while len(self._clients) > self._size:
                    _, old = self._clients.popitem(last=False)
                    old.retired = True
                    retired.append(old)
        if chosen is not entry:
            entry.users = 0
            retired.append(entry)
        self._close_idle(retired)
        return chosen

    def release(self, conn: KafkaConnection, entry: _KafkaPythonClient, *, retire: bool) -> None:
        with self._lock:
            entry.users -= 1
            entry.last_used = time.monotonic()
            if retire and not entry.retired:
                entry.retired = True
                if self._clients.get(conn) is entry:
                    del self._clients[conn]
        self._close_idle([entry])

    def clear(self) -> None:
        with self._lock:
            self._forget_after_fork()
            entries = list(self._clients.values())
            self._clients.clear()
            for entry in entries:
                entry.retired = True
        self._close_idle(entries)

    def _forget_after_fork(self) -> None:
        if os.getpid() != self._pid:
            self._abandoned.extend(self._clients.values())
            self._clients.clear()
            self._pid = os.getpid()

    def _close_idle(self, entries: list[_KafkaPythonClient]) -> None:
        for entry in entries:
            with self._lock:
                closing = entry.retired and entry.users == 0 and entry.admin is not None
                admin, entry.admin = (entry.admin, None) if closing else (None, entry.admin)
            if admin is not None:
                try:
                    admin.close()
                except Exception:  # closing a broken client: nothing to keep
                    log.debug("closing a kafka-python admin client failed", exc_info=True)


_kafka_python_clients = _KafkaPythonClientCache()


def _kafka_python_call(
    conn: KafkaConnection, context: str, fn: Callable[[Any], T], *, reuse: bool = False
) -> T:
    """`fn(admin)` with a kafka-python admin client, bounded in wall-clock time.

    kafka-python bounds its requests but not a TLS handshake with a broker that accepted the
    TCP connection and then stopped answering (a SIGSTOPped or hung JVM): its bootstrap waited
    on one for minutes. So the call runs in its own thread and the caller waits at most the
    connection's timeout (or what is left of the request's budget): past it the caller gets a
    CellTimeout naming the cell, and the abandoned thread ends when the broker answers or
    closes.

    With `reuse`, the client comes from `_kafka_python_clients` (a warm, authenticated
    connection) instead of being made and closed for this call alone.
    """
    from kafka import errors as kp_errors

    limit = budget_remaining(conn.timeout)
    if limit <= 0:
        raise CellTimeout(context, cell=conn.cell_name, timeout=conn.timeout)
    outcome: dict[str, Any] = {}
    done = threading.Event()
    abandoned = threading.Event()

    def work() -> None:
        try:
            if reuse:
                entry = _kafka_python_clients.acquire(conn)
                failed = True
                try:
                    outcome["value"] = fn(entry.admin)
                    failed = False
                except KafkaGatewayError:
                    failed = False  # a broker answered with an error: the connection is fine
                    raise
                finally:
                    _kafka_python_clients.release(conn, entry, retire=failed or abandoned.is_set())
            else:
                admin = _kafka_python_admin(conn, timeout=limit)
                try:
                    outcome["value"] = fn(admin)
                finally:
                    admin.close()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="skiff-kafka-python", daemon=True).start()
    with _cell_wait():
        answered = done.wait(limit + 0.5)
    if not answered:
        abandoned.set()
        raise CellTimeout(
            context,
            cell=conn.cell_name,
            timeout=conn.timeout,
            detail=f"kafka-python call abandoned after {limit + 0.5:.1f} s",
        )
    error = outcome.get("error")
    if isinstance(error, kp_errors.KafkaError):
        raise _from_kafka_python(
            error, context, cell=conn.cell_name, timeout=conn.timeout
        ) from error
    if error is not None:
        raise error
    return cast(T, outcome["value"])


def _send(admin: Any, request: Any) -> Any:
    # kafka-python 3.0's admin mixins all send raw requests this way; there is no public
    # high-level call for client quotas (KIP-546) yet. Pinned in pyproject.toml.
    async def _call() -> Any:
        return await admin._manager.send(request)

    return admin._manager.run(_call)


def replace_bootstrap(conn: KafkaConnection, bootstrap: str) -> KafkaConnection:
    from dataclasses import replace as _replace

    return _replace(conn, bootstrap=bootstrap)


def _send_to_node(admin: Any, request: Any, node_id: int) -> Any:
    async def _call() -> Any:
        return await admin._manager.send(request, node_id=node_id)

    return admin._manager.run(_call)
