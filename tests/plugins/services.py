"""Start the real services the test suite talks to: a throwaway PostgreSQL and Redis.

Loaded early with ``-p tests.plugins.services`` (see ``addopts`` in pyproject.toml). Its
``pytest_load_initial_conftests`` wrapper runs before pytest-django reads
``settings.DATABASES`` there, starts both servers on random free ports in temp dirs and
exports the environment that ``console.settings`` reads:

* ``DATABASE_URL`` — the throwaway cluster; pytest-django creates ``test_skiff`` in it.
* ``REDIS_URL`` — channel layer (channels_redis) and Celery broker.
* ``SKIFF_TASKS_INLINE=1`` — Celery tasks run eagerly in tests.
* ``SKIFF_HOME`` — a temp dir, so tests never touch ``~/.skiff``.
* ``SKIFF_FREEZE_STARTUP_HEAP=0`` — no ``gc.freeze()`` in the test process (console/heap.py).

Escape hatch: ``SKIFF_TEST_DATABASE_URL`` / ``SKIFF_TEST_REDIS_URL`` use existing servers
instead of starting them. A server that cannot start fails the run with the reason and
the tail of its log: nothing here ever skips. With ``CI=true`` any skipped test is turned
into a failure (see ``pytest_runtest_makereport``).

Both servers are stopped at the end of the session (``pytest_unconfigure``, with an
``atexit`` fallback): exactly the processes started here are signalled, and their temp
dirs removed. ``SKIFF_TEST_KEEP_SERVICES=1`` keeps the temp dirs (logs) for debugging.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

PG_MIN_MAJOR = 14
START_TIMEOUT = float(os.environ.get("SKIFF_TEST_SERVICE_TIMEOUT", "60"))
STOP_TIMEOUT = 10.0
PG_DB_NAME = "skiff"
PG_USER = "skiff"
# Django's default PBKDF2 costs ~0.5-1 s per hash on a 2-core box, paid at every user
# creation and login. The test process and the live app server (live_server.py) both use
# this instead, so a hash made by one verifies in the other.
TEST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Seconds spent starting things, shown at the end of the run ("skiff harness timings").
# Other plugins (browser.py) add their own entries.
TIMINGS: dict[str, float] = {}


class ServiceStartError(Exception):
    """A service could not be started; the message says why (and shows its log)."""


# --- helpers -------------------------------------------------------------------------------


def env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) or "    (log is empty)"


try:  # loaded here: loading a library in a forked child (preexec_fn) can deadlock
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _die_with_parent(sig: int = signal.SIGTERM):
    """preexec_fn: the child gets ``sig`` if pytest dies without cleaning up (SIGKILL…).

    Runs after the setuid done by ``Popen(user=...)``, so the setting survives it.
    """

    def preexec() -> None:
        if _libc is not None:
            _libc.prctl(1, sig)  # PR_SET_PDEATHSIG; Linux only, best effort

    return preexec


def stop_process(proc: subprocess.Popen | None, sig: int, kill_after: float = STOP_TIMEOUT) -> None:
    """Signal exactly this process, wait, then SIGKILL it if it did not exit."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=kill_after)
    except ProcessLookupError:
        pass


# --- PostgreSQL ----------------------------------------------------------------------------


def pg_major(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\s(\d+)(?:\.\d+)*", out)
    return int(match.group(1)) if match else None


def find_pg_bindir() -> Path:
    """The first PostgreSQL >= 14 server bin dir of: SKIFF_PG_BIN (only it, when set),
    ``pg_config --bindir``, /usr/lib/postgresql/*/bin newest first, initdb on PATH.
    Same search as scripts/install-test-deps.sh."""
    if os.environ.get("SKIFF_PG_BIN"):
        bindir = Path(os.environ["SKIFF_PG_BIN"])
        major = pg_major(bindir) if (bindir / "initdb").is_file() else None
        if major is None or major < PG_MIN_MAJOR:
            raise ServiceStartError(
                f"SKIFF_PG_BIN={bindir} has no PostgreSQL >= {PG_MIN_MAJOR} initdb and postgres"
            )
        return bindir
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            )
            if out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass

    def version_key(path: Path) -> int:
        try:
            return int(path.parent.name)
        except ValueError:
            return -1

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            major = pg_major(bindir)
            if major is not None and major >= PG_MIN_MAJOR:
                return bindir
    raise ServiceStartError(
        f"no PostgreSQL >= {PG_MIN_MAJOR} server found (looked in: "
        f"{', '.join(map(str, candidates)) or 'nothing'}). Run `bash scripts/install-test-deps.sh` "
        "as root (installs Debian's 'postgresql'), or set SKIFF_PG_BIN to the dir with "
        "initdb and postgres."
    )


def unprivileged_user() -> pwd.struct_passwd | None:
    """initdb/postgres refuse to run as root: the user to run them as, or None if not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ServiceStartError(
        "running as root, and neither a 'postgres' nor a 'nobody' user exists to run "
        "PostgreSQL as (initdb refuses root). Install Debian's 'postgresql' package."
    )


@dataclass
class Postgres:
    bindir: Path
    tmpdir: Path
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen | None = None

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "postgres.log"

    @property
    def url(self) -> str:
        password = quote(self.password, safe="")
        return f"postgres://{PG_USER}:{password}@127.0.0.1:{self.port}/{PG_DB_NAME}"

    def _run_kwargs(self) -> dict:
        user = unprivileged_user()
        kwargs: dict = {"cwd": str(self.tmpdir), "env": {**os.environ, "LC_ALL": "C", "LANG": "C"}}
        if user is not None:
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
            kwargs["env"]["HOME"] = str(self.tmpdir)
            kwargs["env"]["USER"] = kwargs["env"]["LOGNAME"] = user.pw_name
        return kwargs

    def start(self) -> None:
        user = unprivileged_user()
        if user is not None:
            os.chown(self.tmpdir, user.pw_uid, user.pw_gid)
        pwfile = self.tmpdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        pwfile.chmod(0o600)
        initdb = [
            str(self.bindir / "initdb"),
            f"--pgdata={self.datadir}",
            f"--username={PG_USER}",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        with open(self.tmpdir / "initdb.log", "wb") as initdb_log:
            result = subprocess.run(
                initdb,
                stdout=initdb_log,
                stderr=subprocess.STDOUT,
                timeout=START_TIMEOUT,
                **self._run_kwargs(),
            )
        pwfile.unlink()
        if result.returncode != 0:
            raise ServiceStartError(
                f"initdb failed (exit {result.returncode}) in {self.datadir}:\n"
                f"{log_tail(self.tmpdir / 'initdb.log')}"
            )

        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.logfile.write_bytes(b"")
            if user is not None:
                os.chown(self.logfile, user.pw_uid, user.pw_gid)
            with open(self.logfile, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.bindir / "postgres"), f"-D{self.datadir}", *self._options()],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C in the terminal is pytest's to handle
                    preexec_fn=_die_with_parent(signal.SIGQUIT),
                    **self._run_kwargs(),
                )
            try:
                self._wait_ready()
                self._create_database()
                return
            except ServiceStartError as exc:
                last_error = str(exc)
                stop_process(self.proc, signal.SIGQUIT)
                if "could not bind" not in self.logfile.read_text(errors="replace"):
                    break
        raise ServiceStartError(last_error)

    def _options(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.tmpdir,
            # A throwaway cluster: no durability, for speed.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": 100,
            "shared_buffers": "64MB",
            "max_wal_size": "1GB",
            "checkpoint_timeout": "30min",
            "autovacuum": "off",
            "jit": "off",
            # Segments as files in the data dir, removed with it even after a SIGKILL
            # (the default, posix, leaves /dev/shm/PostgreSQL.* behind then).
            "dynamic_shared_memory_type": "mmap",
            "log_min_messages": "warning",
            "logging_collector": "off",
            # Logical decoding for the Debezium PostgreSQL source's tests (issue 19); costs
            # nothing until a replication slot exists.
            "wal_level": "logical",
            "max_replication_slots": 10,
            "max_wal_senders": 10,
        }
        return [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]

    def _connect(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=PG_USER,
            password=self.password,
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
        )

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceStartError(
                    f"PostgreSQL exited with code {self.proc.returncode} on port {self.port}; "
                    f"log {self.logfile}:\n{log_tail(self.logfile)}"
                )
            try:
                with self._connect() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                error = exc
                time.sleep(0.1)
        raise ServiceStartError(
            f"PostgreSQL did not accept connections on 127.0.0.1:{self.port} within "
            f"{START_TIMEOUT:.0f}s (last error: {error}); log {self.logfile}:\n"
            f"{log_tail(self.logfile)}"
        )

    def _create_database(self) -> None:
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')

    def stop(self) -> None:
        # SIGINT = "fast" shutdown: disconnects clients, no waiting on them.
        stop_process(self.proc, signal.SIGINT)


# --- Redis ---------------------------------------------------------------------------------


def redis_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Redis:
    tmpdir: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        )
        if binary is None:
            raise ServiceStartError(
                "redis-server not found. Run `bash scripts/install-test-deps.sh` as root "
                "(installs Debian's 'redis-server'), or set SKIFF_TEST_REDIS_URL."
            )
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            with open(self.logfile, "wb") as log:
                self.proc = subprocess.Popen(
                    [binary, *self._options()],
                    cwd=str(self.tmpdir),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(signal.SIGTERM),
                )
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = (
                        f"redis-server exited with code {self.proc.returncode} on port "
                        f"{self.port}; log {self.logfile}:\n{log_tail(self.logfile)}"
                    )
                    break
                if redis_ping("127.0.0.1", self.port):
                    return
                time.sleep(0.05)
            else:
                last_error = (
                    f"redis-server did not answer PING on 127.0.0.1:{self.port} within "
                    f"{START_TIMEOUT:.0f}s; log {self.logfile}:\n{log_tail(self.logfile)}"
                )
            stop_process(self.proc, signal.SIGTERM)
            if "Address already in use" not in self.logfile.read_text(errors="replace"):
                break
        raise ServiceStartError(last_error)

    def _options(self) -> list[str]:
        settings = {
            "port": self.port,
            "bind": "127.0.0.1",
            "save": "",  # no RDB snapshots
            "appendonly": "no",
            "daemonize": "no",
            "dir": self.tmpdir,
            "logfile": "",  # stdout, which goes to redis.log
        }
        return [arg for name, value in settings.items() for arg in (f"--{name}", str(value))]

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM)


# --- the harness ---------------------------------------------------------------------------


@dataclass
class Harness:
    tmpdir: Path | None = None
    postgres: Postgres | None = None
    redis: Redis | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stopped: bool = False

    def start(self) -> None:
        base = temp_base()
        remove_stale_dirs(base)
        self.tmpdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=base))
        (self.tmpdir / "owner.pid").write_text(str(os.getpid()))
        # Traversable by the unprivileged postgres user; the subdirs stay private.
        self.tmpdir.chmod(0o755)
        home = self.tmpdir / "skiff-home"
        home.mkdir(mode=0o700)

        os.environ["SKIFF_HOME"] = str(home)
        os.environ["SKIFF_TASKS_INLINE"] = "1"
        # A test process is not a server: what is alive when a test first imports the ASGI
        # application (fixtures among it) must stay collectable (console/heap.py).
        os.environ["SKIFF_FREEZE_STARTUP_HEAP"] = "0"

        db_url = os.environ.get("SKIFF_TEST_DATABASE_URL", "").strip()
        if db_url:
            check_external_database(db_url)
            os.environ["DATABASE_URL"] = db_url
            self.notes.append("PostgreSQL: SKIFF_TEST_DATABASE_URL")
        else:
            started = time.monotonic()
            pgdir = self.tmpdir / "postgres"
            pgdir.mkdir(mode=0o700)
            self.postgres = Postgres(bindir=find_pg_bindir(), tmpdir=pgdir)
            self.postgres.start()
            self.timings["postgres"] = TIMINGS["postgres"] = time.monotonic() - started
            os.environ["DATABASE_URL"] = self.postgres.url
            self.notes.append(
                f"PostgreSQL {self.postgres.bindir.parent.name}: 127.0.0.1:{self.postgres.port} "
                f"({self.timings['postgres']:.2f}s)"
            )

        redis_url = os.environ.get("SKIFF_TEST_REDIS_URL", "").strip()
        if redis_url:
            check_external_redis(redis_url)
            os.environ["REDIS_URL"] = redis_url
            self.notes.append("Redis: SKIFF_TEST_REDIS_URL")
        else:
            started = time.monotonic()
            redis_dir = self.tmpdir / "redis"
            redis_dir.mkdir(mode=0o700)
            self.redis = Redis(tmpdir=redis_dir)
            self.redis.start()
            self.timings["redis"] = TIMINGS["redis"] = time.monotonic() - started
            os.environ["REDIS_URL"] = self.redis.url
            self.notes.append(f"Redis: 127.0.0.1:{self.redis.port} ({self.timings['redis']:.2f}s)")

    def stop(self, keep_files: bool = False) -> None:
        if self.stopped:
            return
        self.stopped = True
        errors = []
        for service in (self.redis, self.postgres):
            if service is not None:
                try:
                    service.stop()
                except Exception as exc:  # stop the others regardless
                    errors.append(f"{type(service).__name__}: {exc}")
        if self.tmpdir is not None and not keep_files and not env_true("SKIFF_TEST_KEEP_SERVICES"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if errors:
            raise RuntimeError("stopping test services failed: " + "; ".join(errors))


TMP_PREFIX = "skiff-test-"


def temp_base() -> str:
    """Where the servers' temp dirs go: tmpfs (/dev/shm) when it has room, it makes initdb
    and the test database 2-3x faster than a disk; else the usual temp dir."""
    if os.environ.get("SKIFF_TEST_TMPDIR"):
        return os.environ["SKIFF_TEST_TMPDIR"]
    shm = "/dev/shm"
    try:
        stat = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and stat.f_bavail * stat.f_frsize >= 1 << 30:
            return shm
    except OSError:
        pass
    return tempfile.gettempdir()


def remove_stale_dirs(base: str) -> None:
    """Remove the temp dirs of earlier runs that died without cleaning up (SIGKILL)."""
    for path in Path(base).glob(TMP_PREFIX + "*"):
        try:
            pid = int((path / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def check_external_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username,
            password=parts.password,
            dbname="postgres",
            connect_timeout=5,
        ):
            pass
    except psycopg.Error as exc:
        raise ServiceStartError(f"SKIFF_TEST_DATABASE_URL is not reachable: {exc}") from exc


def check_external_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise ServiceStartError(f"SKIFF_TEST_REDIS_URL is not reachable: {exc}") from exc


_HARNESS_KEY = pytest.StashKey[Harness]()
_harness: Harness | None = None


def _needs_services(config: pytest.Config) -> bool:
    ns = config.known_args_namespace
    return not (getattr(ns, "help", False) or getattr(ns, "version", False))


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser, args):
    """Start the services before any other implementation (pytest-django's) runs."""
    global _harness
    if _needs_services(early_config) and _harness is None:
        harness = Harness()
        _harness = harness
        atexit.register(harness.stop)
        try:
            harness.start()
        except ServiceStartError as exc:
            harness.stop(keep_files=True)  # the logs named in the message; removed next run
            raise pytest.UsageError(f"Skiff test services could not start:\n{exc}") from None
        early_config.stash[_HARNESS_KEY] = harness
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    if not _needs_services(config):
        return
    if _harness is None:
        raise pytest.UsageError(
            "tests.plugins.services was loaded too late to start PostgreSQL/Redis before "
            "Django read its settings: load it with `-p tests.plugins.services` (addopts in "
            "pyproject.toml), not from a conftest."
        )
    from django.conf import settings

    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS


def pytest_report_header(config: pytest.Config) -> list[str]:
    harness = config.stash.get(_HARNESS_KEY, None)
    if harness is None:
        return []
    return [f"skiff services: {'; '.join(harness.notes)}; tmp {harness.tmpdir}"]


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        parts = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in TIMINGS.items())
        terminalreporter.write_line(f"skiff harness timings: {parts}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    harness = config.stash.get(_HARNESS_KEY, None)
    if harness is not None:
        harness.stop()


# --- CI: a skipped test is a failed test ---------------------------------------------------

CI_SKIP_MESSAGE = (
    "skipped under CI=true, which counts as a failure: integration tests must run against "
    "real services (fix the cause instead of skipping)."
)


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if env_true("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"{CI_SKIP_MESSAGE}\nSkip reason: {_skip_reason(report.longrepr)}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    if env_true("CI") and report.outcome == "skipped":
        report.outcome = "failed"
        report.longrepr = f"{CI_SKIP_MESSAGE}\nSkip reason: {_skip_reason(report.longrepr)}"
    return report
