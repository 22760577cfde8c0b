"""Resolve the broker runtime (Kafka jars + JMX exporter agent) from fleet/pom.xml, and the
Kafka Connect worker's runtime (issue 19) from fleet/connect/pom.xml.

Maven is run once; afterwards a marker file holding a hash of the poms and of the topic
policies' Java sources (fleet/policy/) makes every later call a few stat() calls. Changing either
(e.g. a Kafka upgrade, a policy fix) invalidates the marker, re-resolves and rebuilds the policy
jar into fleet/lib/.

The Connect worker has a classpath of its own (fleet/connect/lib/) and one directory per
allowed plugin (fleet/connect/plugins/<id>/), with a marker of its own: resolving it never
touches the brokers' fleet/lib/, whose jars running brokers hold open.

    python -m fleet.runtime.classpath        # what `make` calls (brokers and Connect)
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FLEET_DIR = REPO_ROOT / "fleet"

INSTALL_HINT = "Install Java 17+ and Maven: apt-get install openjdk-17-jdk-headless maven"
AGENT_JAR_NAME = "jmx_prometheus_javaagent.jar"
MARKER_NAME = ".skiff-resolved"
# Skiff's broker-side topic policies (issue 13): a Maven module of its own, built into lib/.
POLICY_DIR_NAME = "policy"
POLICY_JAR_NAME = "skiff-policy.jar"
MIN_JAVA_MAJOR = 17
# The Connect worker (issue 19): a Maven project of its own under fleet/connect/.
CONNECT_DIR_NAME = "connect"
# Each allowed plugin's directory under fleet/connect/plugins/, with a jar that must be there
# once resolved (the catalogue in fleet/connect/plugins.py names the same directories).
CONNECT_PLUGIN_JARS = {
    "postgres-cdc": "debezium-connector-postgres-*.jar",
    "jdbc-sink": "debezium-connector-jdbc-*.jar",
}
# Plugins that touch the worker host's files; resolving fails if one ever shows up.
CONNECT_FORBIDDEN_JARS = ("connect-file-*.jar",)


class RuntimeUnavailable(RuntimeError):
    """The broker runtime cannot be resolved or used on this host."""


@dataclass(frozen=True)
class Runtime:
    java: Path
    lib_dir: Path
    agent_jar: Path
    config_dir: Path
    # Hash of what lib/ was built from (the marker's content): names the class-data archive.
    digest: str = ""

    @property
    def cds_archive(self) -> Path:
        """The AppCDS archive of the broker's classes for this lib/ (issue 14).

        Made by the launcher's first broker run (-XX:ArchiveClassesAtExit, written when that
        JVM exits cleanly) and used by every later start (-XX:SharedArchiveFile). Named by the
        lib's digest, so new jars never meet an old archive (the JVM would refuse it anyway
        and start without sharing).
        """
        return self.lib_dir / f"kafka-{self.digest[:16] or 'unversioned'}.jsa"

    @property
    def classpath(self) -> str:
        # The JVM expands `dir/*` itself, which keeps the command line short and stable.
        return f"{self.lib_dir}/*"

    @property
    def log4j_config(self) -> Path:
        return self.config_dir / "log4j2.yaml"

    @property
    def metrics_config(self) -> Path:
        return self.config_dir / "jmx-exporter.yaml"


@dataclass(frozen=True)
class ConnectRuntime:
    """The jars of a Kafka Connect worker: its classpath and the allowed plugins' directories."""

    java: Path
    lib_dir: Path
    plugins_dir: Path
    config_dir: Path

    @property
    def classpath(self) -> str:
        return f"{self.lib_dir}/*"

    @property
    def log4j_config(self) -> Path:
        return self.config_dir / "log4j2.properties"

    def plugin_dir(self, plugin_id: str) -> Path:
        return self.plugins_dir / plugin_id


def _which(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise RuntimeUnavailable(f"`{name}` was not found on PATH. {INSTALL_HINT}")
    return Path(found)


def java_major_version(java: Path) -> int:
    proc = subprocess.run(
        [str(java), "-XshowSettings:properties", "-version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for line in proc.stderr.splitlines():
        line = line.strip()
        if line.startswith("java.specification.version ="):
            value = line.split("=", 1)[1].strip()
            return int(value.split(".")[-1] if value.startswith("1.") else value)
    raise RuntimeUnavailable(f"Could not determine the Java version of {java}. {INSTALL_HINT}")


def _pom_digest(fleet_dir: Path) -> str:
    """A hash of what the runtime is built from: the poms and the policy's Java sources."""
    digest = hashlib.sha256((fleet_dir / "pom.xml").read_bytes())
    policy_dir = fleet_dir / POLICY_DIR_NAME
    if policy_dir.is_dir():
        sources = [policy_dir / "pom.xml", *sorted((policy_dir / "src").rglob("*.java"))]
        for source in sources:
            digest.update(str(source.relative_to(fleet_dir)).encode() + b"\0")
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _runtime(fleet_dir: Path, java: Path, digest: str = "") -> Runtime:
    return Runtime(
        java=java,
        lib_dir=fleet_dir / "lib",
        agent_jar=fleet_dir / "agent" / AGENT_JAR_NAME,
        config_dir=fleet_dir / "config",
        digest=digest,
    )


def _is_resolved(runtime: Runtime, digest: str) -> bool:
    marker = runtime.lib_dir / MARKER_NAME
    try:
        return marker.read_text().strip() == digest and runtime.agent_jar.is_file()
    except FileNotFoundError:
        return False


def ensure_classpath(fleet_dir: Path = DEFAULT_FLEET_DIR, *, quiet: bool = True) -> Runtime:
    """Return the broker runtime, resolving it with Maven the first time."""
    fleet_dir = fleet_dir.resolve()
    if not (fleet_dir / "pom.xml").is_file():
        raise RuntimeUnavailable(f"{fleet_dir / 'pom.xml'} is missing")
    java = _which("java")
    digest = _pom_digest(fleet_dir)
    runtime = _runtime(fleet_dir, java, digest)
    if not _is_resolved(runtime, digest):
        _resolve_once(
            java,
            runtime.lib_dir,
            lambda: _is_resolved(runtime, digest),
            lambda mvn: _resolve(fleet_dir, runtime, mvn, digest, quiet=quiet),
        )
    return runtime


def _resolve_once(
    java: Path, lib_dir: Path, is_resolved: Callable[[], bool], resolve: Callable[[Path], None]
) -> None:
    """Check Java, then run `resolve(mvn)` under a lock of `lib_dir` unless done meanwhile."""
    major = java_major_version(java)
    if major < MIN_JAVA_MAJOR:
        raise RuntimeUnavailable(f"Java {major} found at {java}; Kafka 4 needs 17+. {INSTALL_HINT}")
    mvn = _which("mvn")
    lib_dir.mkdir(parents=True, exist_ok=True)
    # Two processes resolving at once (make run + a test session) would delete each other's jars.
    with open(lib_dir / ".resolve.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_resolved():
            resolve(mvn)


def _run_maven(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeUnavailable(f"{what} failed ({' '.join(cmd)}):\n{tail}")


def _resolve(fleet_dir: Path, runtime: Runtime, mvn: Path, digest: str, *, quiet: bool) -> None:
    # Stale jars from a previous Kafka version would silently end up on the classpath.
    for stale in [*runtime.lib_dir.glob("*.jar"), *runtime.lib_dir.glob("*.jsa*")]:
        stale.unlink()
    cmd = [
        str(mvn),
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(fleet_dir / "pom.xml"),
        # Executions are configured in the pom (output folders, the agent's version).
        "dependency:copy-dependencies@broker-classpath",
        "dependency:copy@metrics-agent",
    ]
    _run_maven(cmd, "Resolving the Kafka classpath")
    if not any(runtime.lib_dir.glob("kafka_2.13-*.jar")) or not runtime.agent_jar.is_file():
        raise RuntimeUnavailable(
            f"Maven succeeded but {runtime.lib_dir} or the agent jar is missing"
        )
    _build_policy(fleet_dir, runtime, mvn, quiet=quiet)
    (runtime.lib_dir / MARKER_NAME).write_text(digest + "\n")


def _build_policy(fleet_dir: Path, runtime: Runtime, mvn: Path, *, quiet: bool) -> None:
    """Compile fleet/policy/ and put its jar on the broker classpath (fleet/lib)."""
    policy_pom = fleet_dir / POLICY_DIR_NAME / "pom.xml"
    if not policy_pom.is_file():
        return
    cmd = [str(mvn), "-B", *(["-q"] if quiet else []), "-f", str(policy_pom), "package"]
    _run_maven(cmd, "Building the topic policies")
    built = policy_pom.parent / "target" / POLICY_JAR_NAME
    shutil.copyfile(built, runtime.lib_dir / POLICY_JAR_NAME)


def _connect_runtime(fleet_dir: Path, java: Path) -> ConnectRuntime:
    connect_dir = fleet_dir / CONNECT_DIR_NAME
    return ConnectRuntime(
        java=java,
        lib_dir=connect_dir / "lib",
        plugins_dir=connect_dir / "plugins",
        config_dir=connect_dir / "config",
    )


def _connect_is_resolved(runtime: ConnectRuntime, digest: str) -> bool:
    try:
        return (runtime.lib_dir / MARKER_NAME).read_text().strip() == digest
    except FileNotFoundError:
        return False


def ensure_connect_classpath(
    fleet_dir: Path = DEFAULT_FLEET_DIR, *, quiet: bool = True
) -> ConnectRuntime:
    """Return the Connect worker's runtime, resolving it with Maven the first time."""
    fleet_dir = fleet_dir.resolve()
    pom = fleet_dir / CONNECT_DIR_NAME / "pom.xml"
    if not pom.is_file():
        raise RuntimeUnavailable(f"{pom} is missing")
    java = _which("java")
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    runtime = _connect_runtime(fleet_dir, java)
    if not _connect_is_resolved(runtime, digest):
        _resolve_once(
            java,
            runtime.lib_dir,
            lambda: _connect_is_resolved(runtime, digest),
            lambda mvn: _resolve_connect(pom, runtime, mvn, digest, quiet=quiet),
        )
    return runtime


def _resolve_connect(
    pom: Path, runtime: ConnectRuntime, mvn: Path, digest: str, *, quiet: bool
) -> None:
    # No worker runs from a half-replaced lib: stale jars (an older Kafka or plugin) go first.
    for stale in runtime.lib_dir.glob("*.jar"):
        stale.unlink()
    if runtime.plugins_dir.is_dir():
        shutil.rmtree(runtime.plugins_dir)
    cmd = [
        str(mvn),
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(pom),
        "dependency:copy-dependencies@worker-classpath",
        "dependency:unpack@plugins",
    ]
    _run_maven(cmd, "Resolving the Connect worker")
    missing = [
        f"{plugin_id}/{pattern}"
        for plugin_id, pattern in CONNECT_PLUGIN_JARS.items()
        if not any(runtime.plugin_dir(plugin_id).rglob(pattern))
    ]
    if not any(runtime.lib_dir.glob("connect-runtime-*.jar")) or missing:
        raise RuntimeUnavailable(
            f"Maven succeeded but the Connect worker is incomplete (missing: "
            f"{', '.join(missing) or 'connect-runtime'})"
        )
    forbidden = [
        str(path)
        for pattern in CONNECT_FORBIDDEN_JARS
        for path in [*runtime.lib_dir.glob(pattern), *runtime.plugins_dir.rglob(pattern)]
    ]
    if forbidden:
        raise RuntimeUnavailable(f"A forbidden plugin was resolved: {', '.join(forbidden)}")
    (runtime.lib_dir / MARKER_NAME).write_text(digest + "\n")


def main() -> int:
    try:
        runtime = ensure_classpath(quiet=False)
        connect = ensure_connect_classpath(quiet=False)
    except RuntimeUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    jars = len(list(runtime.lib_dir.glob("*.jar")))
    print(f"Kafka runtime ready: {jars} jars in {runtime.lib_dir}, agent {runtime.agent_jar}")
    connect_jars = len(list(connect.lib_dir.glob("*.jar")))
    print(
        f"Connect worker ready: {connect_jars} jars in {connect.lib_dir}, plugins in "
        f"{connect.plugins_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
