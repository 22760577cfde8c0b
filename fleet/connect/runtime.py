"""Run the Kafka Connect worker of one tenant cluster (issue 19) as a JVM on this host.

One distributed worker group per tenant cluster, of one worker:
`org.apache.kafka.connect.cli.ConnectDistributed worker.properties`, started from the classpath
and plugin directories fleet/connect/pom.xml resolves (fleet.runtime.classpath), with the JVM
flags of the brokers (fleet.runtime.launcher.java_base_command) and a small heap.

What keeps a worker to its tenant (docs/fleet.md, "Connect workers"):
- It authenticates to the cell's tenant listener (SASL_SSL, SCRAM-SHA-512, the cell's CA) with a
  platform-made key of the cluster; the broker's ACLs for that key are the real boundary.
- `group.id=<prefix>connect` and internal topics `<prefix>connect-{configs,offsets,status}`.
- `connector.client.config.override.policy=Allowlist` allowing only `group.id`: Kafka's default
  (`All`) would let a connector config replace the worker's credentials.
- REST on 127.0.0.1 only (Connect's REST API is unauthenticated; only the console calls it).
- `plugin.path` names only the catalogue's plugin directories, and plugins are discovered from
  their ServiceLoader manifests (`plugin.discovery=service_load`: fast, and nothing is loaded
  that does not declare itself). FileStream is not on the worker at all.
- Secrets of connector configs reach the worker through the `directory` config provider, which
  may read only the worker's own secrets directory (`allowed.paths`).

Layout (secrets 0600, directories 0700)::

    <home>/connect/<prefix without the dot>/worker.json        the spec (key included)
                                            worker.properties  rendered on every start
                                            worker.pid
                                            console.log        JVM stdout/stderr (WARN+)
                                            logs/connect.log
                                            secrets/<connector>/<key>

A worker is *crashed* when its pid file names a process that is gone (a SIGKILL, an OOM exit);
`stop` removes the pid file, so a worker stopped on purpose is never restarted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from fleet.connect.plugins import plugin_dirs
from fleet.runtime import certs
from fleet.runtime.classpath import (
    DEFAULT_FLEET_DIR,
    ConnectRuntime,
    RuntimeUnavailable,
    ensure_connect_classpath,
)
from fleet.runtime.launcher import (
    LOCAL_HOST,
    _escape_property,
    _port_free,
    _probe_http,
    _read_cmdline,
    _signal,
    _tail,
    java_base_command,
)

log = logging.getLogger(__name__)

MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"
DEFAULT_HEAP_MB = 320
# Partitions of the internal topics: the config topic must have exactly one; the others need
# few for one small worker group (Kafka's defaults, 25 and 5, would spend the tenant's budget).
OFFSET_PARTITIONS = 3
STATUS_PARTITIONS = 1
OFFSET_FLUSH_MS = 10_000
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
CONNECTOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
SECRET_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# Popen handles of workers this process started (reaped, so a killed one is no zombie).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class WorkerError(RuntimeError):
    """A Connect worker could not be started, stopped or reached."""


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker's properties are rendered from (kept in worker.json, 0600)."""

    tenant_prefix: str
    bootstrap: str
    username: str
    password: str
    ca_path: str
    replication_factor: int
    heap_mb: int = DEFAULT_HEAP_MB
    rest_port: int = 0
    # Where REST listens and what it advertises: loopback on a host (local runner); in the
    # compose topology, every address of the `connect` container, reached as `connect` over
    # the compose network only (never published).
    rest_bind: str = LOCAL_HOST
    rest_advertised: str = LOCAL_HOST

    def __repr__(self) -> str:  # keep the key's password out of logs and tracebacks
        return f"WorkerSpec(tenant_prefix={self.tenant_prefix!r}, rest_port={self.rest_port})"

    @property
    def group_id(self) -> str:
        return f"{self.tenant_prefix}connect"

    def internal_topic(self, kind: str) -> str:
        return f"{self.tenant_prefix}connect-{kind}"


def check_prefix(tenant_prefix: str) -> str:
    """A tenant prefix is `<team>.<cluster>.`: letters, digits, '-', '_' and two dots."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*\.", tenant_prefix):
        raise WorkerError(f"not a tenant prefix: {tenant_prefix!r}")
    return tenant_prefix


def _jaas(username: str, password: str) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"{SCRAM_MODULE} required username={quoted(username)} password={quoted(password)};"


def client_security(spec: WorkerSpec) -> dict[str, str]:
    """The settings every client of the worker uses to reach the cell's tenant listener."""
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": _jaas(spec.username, spec.password),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": spec.ca_path,
    }


def render_worker_properties(
    spec: WorkerSpec, *, plugin_path: list[Path], secrets_dir: Path
) -> dict[str, str]:
    """The worker's configuration (see the module docstring for why each guard is there)."""
    check_prefix(spec.tenant_prefix)
    rf = str(spec.replication_factor)
    props = {
        "bootstrap.servers": spec.bootstrap,
        "group.id": spec.group_id,
        "config.storage.topic": spec.internal_topic("configs"),
        "offset.storage.topic": spec.internal_topic("offsets"),
        "status.storage.topic": spec.internal_topic("status"),
        "config.storage.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "offset.storage.partitions": str(OFFSET_PARTITIONS),
        "status.storage.partitions": str(STATUS_PARTITIONS),
        # Source offsets and sink consumer offsets are committed this often: what a crashed
        # worker replays after its restart (Kafka's default is 60 s).
        "offset.flush.interval.ms": str(OFFSET_FLUSH_MS),
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        # REST: loopback only; the console is its one client.
        "listeners": f"http://{spec.rest_bind}:{spec.rest_port}",
        "rest.advertised.host.name": spec.rest_advertised,
        "rest.advertised.port": str(spec.rest_port),
        "rest.advertised.listener": "http",
        # Plugins: only the catalogue's directories, found through their manifests.
        "plugin.path": ",".join(str(p) for p in plugin_path),
        "plugin.discovery": "service_load",
        # Connector configs may override the group id of a sink's consumer, nothing else.
        "connector.client.config.override.policy": "Allowlist",
        "connector.client.config.override.allowlist": "group.id",
        # Secrets: `${directory:<secrets>/<connector>:<key>}`, readable only below secrets/.
        "config.providers": "directory",
        "config.providers.directory.class": (
            "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
        ),
        "config.providers.directory.param.allowed.paths": str(secrets_dir),
        # The worker's own clients and its connectors' producers, consumers and admin clients.
        **client_security(spec),
        **{
            f"{role}.{k}": v
            for role in ("producer", "consumer", "admin")
            for k, v in client_security(spec).items()
        },
    }
    return props


def _properties_text(props: dict[str, str]) -> str:
    lines = ["# Rendered by fleet/connect/runtime.py on every start; edits are lost."]
    lines += [f"{key}={_escape_property(value)}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    """A port on loopback nobody listens on now (chosen by the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL_HOST, 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (VmRSS), or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError, PermissionError):
        return None
    return None


class LocalConnectWorker:
    """The worker of one tenant prefix on this host: its files, its JVM."""

    def __init__(self, home: Path, tenant_prefix: str, fleet_dir: Path = DEFAULT_FLEET_DIR):
        self.tenant_prefix = check_prefix(tenant_prefix)
        self.dir = Path(home).resolve() / tenant_prefix.rstrip(".")
        self.fleet_dir = Path(fleet_dir).resolve()

    # ---- paths -----------------------------------------------------------------------------

    @property
    def spec_path(self) -> Path:
        return self.dir / "worker.json"

    @property
    def properties_path(self) -> Path:
        return self.dir / "worker.properties"

    @property
    def pid_path(self) -> Path:
        return self.dir / "worker.pid"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @property
    def connect_log(self) -> Path:
        return self.dir / "logs" / "connect.log"

    @property
    def secrets_dir(self) -> Path:
        return self.dir / "secrets"

    # ---- state -----------------------------------------------------------------------------

    def load_spec(self) -> WorkerSpec | None:
        try:
            return WorkerSpec(**json.loads(self.spec_path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def save_spec(self, spec: WorkerSpec) -> None:
        """Keep `spec` for the next start (by this process, the supervisor or a runner)."""
        certs.write_private_file(self.spec_path, json.dumps(asdict(spec), indent=1))

    def pid(self) -> int | None:
        """The pid of this prefix's running worker JVM, or None."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        child = _CHILDREN.get(pid)
        if child is not None:
            if child.poll() is None:
                # Our own child: trust the handle (the java launcher re-execs itself, and its
                # command line reads empty for a moment meanwhile).
                return pid
            del _CHILDREN[pid]
            return None
        return pid if self._is_our_worker(pid) else None

    def _is_our_worker(self, pid: int) -> bool:
        cmdline = _read_cmdline(pid) or []
        return MAIN_CLASS in cmdline and str(self.properties_path) in cmdline

    def crashed(self) -> bool:
        """Died without being stopped: its pid file names a process that is gone."""
        return self.pid_path.exists() and self.pid() is None

    @property
    def rest_url(self) -> str:
        spec = self.load_spec()
        if spec is None or not spec.rest_port:
            raise WorkerError(f"the Connect worker of {self.tenant_prefix} was never started")
        return f"http://{LOCAL_HOST}:{spec.rest_port}"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One start or stop at a time per worker, across processes."""
        certs.ensure_private_dir(self.dir)
        with open(self.dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    # ---- start / stop ----------------------------------------------------------------------

    def start(self, spec: WorkerSpec | None = None, *, timeout: float = 120.0) -> int:
        """Start the worker (with `spec`, or the saved one) unless it runs; wait until ready.

        Keeps the REST port it had when that port is still free. Returns the pid. Call it under
        `lock()`.
        """
        runtime = ensure_connect_classpath(self.fleet_dir)
        spec = spec or self.load_spec()
        if spec is None:
            raise WorkerError(f"the Connect worker of {self.tenant_prefix} has no spec to start")
        running = self.pid()
        if running is not None:
            self.wait_ready(spec.rest_port, timeout=timeout, pid=running)
            return running
        keep = spec.rest_port and _port_free(spec.rest_port, spec.rest_bind)
        port = spec.rest_port if keep else free_port()
        spec = WorkerSpec(**{**asdict(spec), "rest_port": port})
        self.save_spec(spec)
        certs.ensure_private_dir(self.secrets_dir)
        props = render_worker_properties(
            spec,
            plugin_path=[runtime.plugin_dir(d) for d in plugin_dirs()],
            secrets_dir=self.secrets_dir,
        )
        certs.write_private_file(self.properties_path, _properties_text(props))
        pid = self._spawn(runtime, spec)
        try:
            self.wait_ready(port, timeout=timeout, pid=pid)
        except BaseException:
            self.stop(timeout=10)
            raise
        return pid

    def _spawn(self, runtime: ConnectRuntime, spec: WorkerSpec) -> int:
        logs = certs.ensure_private_dir(self.dir / "logs")
        cmd = [
            *java_base_command(runtime.java, runtime.log4j_config, heap_mb=spec.heap_mb),
            f"-Dkafka.logs.dir={logs}",
            "-cp",
            runtime.classpath,
            MAIN_CLASS,
            str(self.properties_path),
        ]
        with open(self.console_log, "ab") as out:
            os.chmod(self.console_log, 0o600)
            out.write(f"\n==== skiff: starting Connect worker at {time.ctime()}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the console's terminal is not for it
                close_fds=True,
            )
        _CHILDREN[proc.pid] = proc
        certs.write_private_file(self.pid_path, f"{proc.pid}\n")
        return proc.pid

    def wait_ready(self, port: int, *, timeout: float, pid: int | None = None) -> None:
        """Until Connect's health check answers 200 (KIP-1017, `GET /health`): the herder has
        created and read its internal topics, joined its group and serves requests. (Other
        endpoints, `/connectors` among them, answer 200 earlier, while it is still starting.)"""
        url = f"http://{LOCAL_HOST}:{port}/health"  # the worker runs on this host
        deadline = time.monotonic() + timeout
        outcome = "no attempt yet"
        while True:
            if pid is not None and self.pid() != pid:
                raise WorkerError(
                    f"the Connect worker of {self.tenant_prefix} exited during start-up.\n"
                    + self.failure_tail()
                )
            outcome = _probe_http(url, timeout=5.0)
            if not outcome:
                return
            if time.monotonic() >= deadline:
                raise WorkerError(
                    f"the Connect worker of {self.tenant_prefix} was not ready within "
                    f"{timeout:g}s ({url}: {outcome}).\n" + self.failure_tail()
                )
            time.sleep(0.25)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Connect stops its connectors and leaves its group), SIGKILL after timeout."""
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid() == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid() == pid:
            _signal(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 10
            while self.pid() == pid:
                if time.monotonic() > kill_deadline:
                    raise WorkerError(f"Connect worker pid {pid} does not die")
                time.sleep(0.05)
        self.pid_path.unlink(missing_ok=True)

    def failure_tail(self) -> str:
        return (
            f"--- {self.console_log}\n{_tail(self.console_log, 20)}\n"
            f"--- {self.connect_log}\n{_tail(self.connect_log, 30)}"
        )

    # ---- connector secrets -----------------------------------------------------------------

    def connector_secrets_dir(self, connector_name: str) -> Path:
        if not CONNECTOR_NAME.fullmatch(connector_name) or connector_name in (".", ".."):
            raise WorkerError(f"not a connector name: {connector_name!r}")
        return self.secrets_dir / connector_name

    def write_secrets(self, connector_name: str, secrets: dict[str, str]) -> dict[str, str]:
        """Owner-only files the `directory` provider reads; the placeholder of each key."""
        directory = certs.ensure_private_dir(self.connector_secrets_dir(connector_name))
        placeholders = {}
        for key, value in secrets.items():
            if not SECRET_KEY.fullmatch(key) or key.endswith(".tmp"):
                raise WorkerError(f"not a secret name: {key!r}")
            certs.write_private_file(directory / key, value)
            placeholders[key] = "${directory:" + f"{directory}:{key}" + "}"
        return placeholders

    def delete_secrets(self, connector_name: str) -> None:
        directory = self.connector_secrets_dir(connector_name)
        if directory.is_dir():
            for path in directory.iterdir():
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                directory.rmdir()


__all__ = [
    "DEFAULT_HEAP_MB",
    "LocalConnectWorker",
    "RuntimeUnavailable",
    "WorkerError",
    "WorkerSpec",
    "render_worker_properties",
    "rss_bytes",
]
