"""The client matrix (issue 17): every maintained Kafka client connects with a tenant key.

Each client produces and consumes 100 messages on a real cell with a key of the cluster and the
cluster's CA, and each is refused when it uses a key of another cluster. The set-up installs
every client from the registries into var/cache/client-matrix/ (kept between runs) and fails,
never skips, when one cannot be had. docs/clients.md lists the matrix and the minimum versions;
a client that cannot connect fails the suite unless that table lists it as unsupported.

Mechanisms: SCRAM-SHA-512 wherever the client's SCRAM works with Kafka 4; PLAIN over TLS
(Skiff's broker-side handler) for librdkafka before 2.6.1 (Debian's kcat, confluent-kafka
2.3.0), whose SCRAM client-final message Kafka 4 rejects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusters.services.access.keys import access_key_create
from fleet.runtime.classpath import DEFAULT_FLEET_DIR
from tests.clusters.access_helpers import active_cluster, new_member
from tests.fleet.kafka import gateway

HERE = Path(__file__).parent / "client_matrix"
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "var" / "cache" / "client-matrix"
COUNT = 100
RUN_TIMEOUT = 150.0
SETUP_TIMEOUT = 1800.0  # a cold Go build of sarama takes minutes on a loaded 2-core machine

JAVA_CLIENTS = ("2.8.2", "3.9.1", "4.3.1")
LEGACY_PYTHON = {"confluent-kafka": "2.3.0", "aiokafka": "0.14.0"}
KAFKAJS = "2.2.4"


@dataclass(frozen=True)
class Client:
    name: str
    mechanism: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def _run(cmd: list[str], *, what: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=SETUP_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"client matrix set-up: {what} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}",
            pytrace=False,
        )


def _java_client(version: str) -> Path:
    lib = CACHE / f"kafka-clients-{version}"
    if (lib / ".ready").exists():
        return lib
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>io.skiff.test</groupId><artifactId>matrix-{version}</artifactId>"
        "<version>1</version><packaging>pom</packaging><dependencies>"
        "<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId>"
        f"<version>{version}</version></dependency>"
        "<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId>"
        "<version>1.7.36</version></dependency></dependencies></project>"
    )
    _run(
        ["mvn", "-B", "-q", "dependency:copy-dependencies", "-DoutputDirectory=jars"],
        cwd=lib,
        what=f"resolving kafka-clients {version} from Maven Central",
    )
    (lib / ".ready").touch()
    return lib


def _legacy_python() -> Path:
    venv = CACHE / "legacy-python"
    python = venv / "bin" / "python"
    stamp = venv / (".ready-" + "-".join(f"{k}{v}" for k, v in LEGACY_PYTHON.items()))
    if stamp.exists():
        return python
    _run([sys.executable, "-m", "venv", str(venv)], what="making the legacy clients' venv")
    _run(
        [str(python), "-m", "pip", "install", "--quiet",
         *(f"{name}=={version}" for name, version in LEGACY_PYTHON.items())],
        what="installing confluent-kafka 2.3.0 and aiokafka from PyPI",
    )  # fmt: skip
    stamp.touch()
    return python


def _kafkajs() -> Path:
    prefix = CACHE / f"kafkajs-{KAFKAJS}"
    if (prefix / "node_modules" / "kafkajs" / "package.json").exists():
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    _run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", "--no-save",
         "--prefix", str(prefix), f"kafkajs@{KAFKAJS}"],
        what=f"installing kafkajs {KAFKAJS} from npm",
        env={**os.environ, "npm_config_cache": str(CACHE / "npm"),
             "npm_config_update_notifier": "false"},
    )  # fmt: skip
    return prefix


def _go_binary(program: str) -> Path:
    binary = CACHE / "bin" / program
    source = HERE / program
    newest = max(p.stat().st_mtime for p in source.iterdir())
    if binary.exists() and binary.stat().st_mtime >= newest:
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    _run(
        ["go", "build", "-o", str(binary), "."],
        cwd=source,
        what=f"building {program} with modules from the Go module proxy",
        env={
            **os.environ,
            "GOMODCACHE": str(CACHE / "go" / "mod"),
            "GOCACHE": str(CACHE / "go" / "build"),
            "GOFLAGS": "-mod=mod",
            "GOTOOLCHAIN": "local",
        },
    )
    return binary


@pytest.fixture(scope="session")
def matrix_clients() -> dict[str, Client]:
    """Install every client (in parallel: most of the time is downloads and the Go builds)."""
    for tool in ("java", "mvn", "go", "npm", "node", "kcat"):
        if subprocess.run(["which", tool], capture_output=True, check=False).returncode != 0:
            pytest.fail(f"{tool} is not installed (scripts/install-test-deps.sh)", pytrace=False)
    CACHE.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        java = {v: pool.submit(_java_client, v) for v in JAVA_CLIENTS}
        legacy = pool.submit(_legacy_python)
        kafkajs = pool.submit(_kafkajs)
        franz = pool.submit(_go_binary, "go-franz")
        sarama = pool.submit(_go_binary, "go-sarama")
        legacy_python = legacy.result()
        clients = [
            Client("confluent-kafka 2.16 (librdkafka 2.16)", "SCRAM-SHA-512",
                   (sys.executable, str(HERE / "py_confluent.py"))),
            Client("confluent-kafka 2.3.0 (librdkafka 2.3.0)", "PLAIN",
                   (str(legacy_python), str(HERE / "py_confluent.py"))),
            Client("kcat (Debian, librdkafka 2.0.2)", "PLAIN", ("sh", str(HERE / "kcat.sh"))),
            Client("kafka-python 3.0.12", "SCRAM-SHA-512",
                   (sys.executable, str(HERE / "py_kafka_python.py"))),
            Client("aiokafka 0.14.0", "SCRAM-SHA-512",
                   (str(legacy_python), str(HERE / "py_aiokafka.py"))),
            *(
                Client(f"Java kafka-clients {v}", "SCRAM-SHA-512",
                       ("java", "-Xmx256m", "-cp", f"{java[v].result() / 'jars'}/*",
                        str(HERE / "Matrix.java")))
                for v in JAVA_CLIENTS
            ),
            Client("Kafka console producer/consumer 4.3.1", "SCRAM-SHA-512",
                   ("sh", str(HERE / "console.sh")),
                   (("KAFKA_LIB", str(DEFAULT_FLEET_DIR / "lib")),)),
            Client(f"kafkajs {KAFKAJS}", "SCRAM-SHA-512",
                   ("node", str(HERE / "node" / "matrix.mjs")),
                   (("KAFKAJS_DIR", str(kafkajs.result())),)),
            Client("franz-go v1.22.3", "SCRAM-SHA-512", (str(franz.result()),)),
            Client("IBM sarama v1.61.1", "SCRAM-SHA-512", (str(sarama.result()),)),
        ]  # fmt: skip
    return {client.name: client for client in clients}


CLIENT_NAMES = [
    "confluent-kafka 2.16 (librdkafka 2.16)",
    "confluent-kafka 2.3.0 (librdkafka 2.3.0)",
    "kcat (Debian, librdkafka 2.0.2)",
    "kafka-python 3.0.12",
    "aiokafka 0.14.0",
    *(f"Java kafka-clients {v}" for v in JAVA_CLIENTS),
    "Kafka console producer/consumer 4.3.1",
    f"kafkajs {KAFKAJS}",
    "franz-go v1.22.3",
    "IBM sarama v1.61.1",
]


@pytest.fixture
def tenants(cell, django_capture_on_commit_callbacks, db):
    capture = django_capture_on_commit_callbacks
    mine, _key, _secret = active_cluster(new_member("mx"), capture, name="clients")
    other, _key, _secret = active_cluster(new_member("mxo"), capture, name="elsewhere")
    key = access_key_create(cluster=mine, name="matrix")  # produce_consume, the default
    intruder = access_key_create(cluster=other, name="intruder", policy_template="admin")
    return mine, key, intruder


def _run_client(client: Client, cell, *, topic: str, group: str, username: str, secret: str):
    env = {
        **os.environ,
        **dict(client.env),
        "BOOTSTRAP": cell.bootstrap_servers,
        "MECHANISM": client.mechanism,
        "USERNAME": username,
        "PASSWORD": secret,
        "CA": cell.ca_path,
        "TOPIC": topic,
        "GROUP": group,
        "COUNT": str(COUNT),
    }
    started = time.monotonic()
    try:
        proc = subprocess.run(
            list(client.argv), env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{client.name} did not finish within {RUN_TIMEOUT:.0f} s") from exc
    return proc, time.monotonic() - started


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_client_produces_and_consumes_with_a_tenant_key_and_is_refused_with_another(
    name, matrix_clients, tenants, cell, admin_connection
):
    client = matrix_clients[name]
    cluster, key, intruder = tenants
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40]
    topic, group = f"{cluster.wire_prefix}mx-{slug}", f"{cluster.wire_prefix}mx-{slug}"
    gateway.create_topic(admin_connection, topic, partitions=3)
    try:
        proc, took = _run_client(
            client, cell, topic=topic, group=group, username=key.key.username, secret=key.secret
        )
        assert proc.returncode == 0 and f"OK produced={COUNT} consumed={COUNT}" in proc.stdout, (
            f"{name} ({client.mechanism}) failed after {took:.1f} s:\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
        refused, _ = _run_client(
            client,
            cell,
            topic=topic,
            group=f"{intruder.key.cluster.wire_prefix}mx",
            username=intruder.key.username,
            secret=intruder.secret,
        )
        assert refused.returncode != 0 and "OK" not in refused.stdout, (
            f"{name} with another cluster's key was not refused:\n{refused.stdout[-2000:]}"
        )
    finally:
        gateway.delete_topic(admin_connection, topic, missing_ok=True)
