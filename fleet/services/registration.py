"""Register an existing Kafka (e.g. one run by Strimzi) as a cell, and open or close cells.

`register_external_cell(...)` takes what a platform team has: bootstrap servers, an admin SCRAM
credential, the CA that signed the brokers' certificates, and where each broker's Prometheus
metrics are served (with the endpoint's basic-auth credential, if any). Before a Cell row
exists, `check_external_cell(...)` connects and checks what Skiff relies on; it refuses the cell,
naming every reason, when:

* it cannot connect and authenticate with the credential (SASL_SSL, SCRAM-SHA-512, the CA);
* SCRAM is not enabled (Skiff gives every access key a SCRAM-SHA-512 user) or the admin cannot
  manage SCRAM users;
* there is no authorizer (`authorizer.class.name` empty), so ACLs would not be enforced;
* `allow.everyone.if.no.acl.found` is not false: a topic without ACLs would be open to every
  tenant's key (Kafka reports this authorizer key without its value, so a probe user without
  ACLs asks for a random topic's metadata: only a refusal passes; the probe user
  `skiff-registration-probe` is revoked afterwards);
* with 3 or more brokers, `default.replication.factor` < 3 or `min.insync.replicas` < 2 (the
  durability Skiff promises tenants; with fewer brokers Skiff's own rule applies, see
  fleet.limits.cell_replication_factor);
* a broker's metrics endpoint does not answer, or does not serve the per-topic traffic counters
  the sampler meters usage from (kafka_server_brokertopicmetrics_bytesinpersec).

The credential is stored the way local cells store theirs: an owner-only JSON file under
SKIFF_HOME/cells/<name>/ (the database keeps only its path; fleet.kafka.platform reads it), the
CA beside it.

`metrics_url` is one URL per broker: a template with `{host}` (the broker's advertised host) or
`{node_id}`, e.g. ``http://kafka-{node_id}.kafka-brokers.kafka.svc:9404/metrics``; or a plain URL
for a one-broker cell; or ``1=http://...,2=http://...`` with one entry per broker.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.conf import settings
from django.db import transaction

from console.errors import ApplicationError, ValidationFailed
from fleet import limits
from fleet.audit import fleet_audit
from fleet.kafka.configs import describe_broker_configs
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.errors import KafkaAuthenticationFailed
from fleet.kafka.platform import PlatformSuperuser
from fleet.kafka.probes import topic_metadata_error
from fleet.kafka.types import BrokerDescription, ClusterDescription, ConfigEntryDescription
from fleet.models import Broker, Cell
from fleet.runtime import certs
from fleet.services.rates import READ_FAMILIES, MetricsParseError, parse_broker_metrics
from fleet.services.sampler import fetch_metrics_text

CHECK_TIMEOUT = 15.0
METRICS_TIMEOUT = 5.0
PROBE_TIMEOUT = 15.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}[a-z0-9]$")
BYTES_IN_FAMILY = READ_FAMILIES[0]


@dataclass(frozen=True)
class CheckResult:
    name: str  # connect, scram, authorizer, allow_everyone, replication, metrics
    ok: bool
    detail: str


@dataclass
class CellCheck:
    """The outcome of the connectivity and capability check, one line per requirement."""

    results: list[CheckResult] = field(default_factory=list)
    cluster: ClusterDescription | None = None
    metrics_urls: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def reasons(self) -> list[str]:
        return [r.detail for r in self.results if not r.ok]

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.results.append(CheckResult(name, ok, detail))


class CellRefused(ApplicationError):
    """The cell failed its check (400); the message names every reason, `checks` lists them."""

    status = 400
    code = "cell_refused"

    def __init__(self, check: CellCheck) -> None:
        self.check = check
        super().__init__(
            "The cell was not registered: " + "; ".join(check.reasons) + ".",
            fields={"checks": check.reasons},
        )


def _metrics_urls(template: str, brokers: tuple[BrokerDescription, ...]) -> dict[int, str]:
    """Each broker's metrics URL from the template (see the module docstring)."""
    template = template.strip()
    if "=" in template.split("://", 1)[0]:  # "1=http://...,2=http://..."
        urls: dict[int, str] = {}
        for entry in re.split(r"[,\s]+", template):
            node, _, url = entry.partition("=")
            if not node.strip().isdigit() or not url:
                raise ValidationFailed(
                    {
                        "metrics_url": f"'{entry}' is not node_id=URL (e.g. 1=http://host:9404/metrics)."
                    }
                )
            urls[int(node)] = url.strip()
        return urls
    if "{host}" in template or "{node_id}" in template:
        return {
            b.node_id: template.replace("{host}", b.host).replace("{node_id}", str(b.node_id))
            for b in brokers
        }
    if len(brokers) > 1:
        raise ValidationFailed(
            {
                "metrics_url": "This cell has several brokers: give one URL per broker, with "
                "{host} or {node_id} in it, or as node_id=URL pairs."
            }
        )
    return {b.node_id: template for b in brokers}


def _value(configs: dict[str, ConfigEntryDescription], key: str) -> str | None:
    entry = configs.get(key)
    return entry.value if entry is not None else None


def _int_value(configs: dict[str, ConfigEntryDescription], key: str, default: int) -> int:
    value = _value(configs, key)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def check_external_cell(
    *,
    bootstrap_servers: str,
    username: str,
    password: str,
    ca_path: Path,
    metrics_url: str,
    metrics_username: str = "",
    metrics_password: str = "",
    fetch: Callable[..., str] = fetch_metrics_text,
) -> CellCheck:
    """Connect and check every requirement; never raises for a failed requirement."""
    check = CellCheck()
    connection = KafkaConnection(
        bootstrap=bootstrap_servers,
        username=username,
        password=password,
        mechanism="SCRAM-SHA-512",
        ca_path=str(ca_path),
        timeout=CHECK_TIMEOUT,
        cell_name="registration check",
    )
    admin = PlatformSuperuser(connection)
    try:
        check.cluster = admin.describe_cluster()
    except ApplicationError as exc:
        check.add("connect", False, f"cannot connect with this credential and CA: {exc.message}")
        return check
    except Exception as exc:
        check.add("connect", False, f"cannot connect with this credential and CA: {exc}")
        return check
    brokers = check.cluster.brokers
    check.add(
        "connect",
        True,
        f"connected over SASL_SSL with SCRAM-SHA-512 to {len(brokers)} brokers "
        f"(cluster id {check.cluster.cluster_id})",
    )

    configs: dict[str, ConfigEntryDescription] = {}
    try:
        configs = describe_broker_configs(connection, brokers[0].node_id)
    except ApplicationError as exc:
        check.add("configs", False, f"cannot read the brokers' configuration: {exc.message}")

    # SCRAM: we signed in with it; the admin must also manage SCRAM users (every key is one).
    mechanisms = " ".join(
        filter(None, (_value(configs, "sasl.enabled.mechanisms"), _scram_listener_values(configs)))
    )
    try:
        admin.list_scram_users()
        scram_ok = True
        scram_detail = "SCRAM-SHA-512 enabled; the admin can manage SCRAM users"
    except ApplicationError as exc:
        scram_ok, scram_detail = False, f"the admin cannot manage SCRAM users: {exc.message}"
    if configs and "SCRAM-SHA-512" not in mechanisms.upper():
        scram_ok = False
        scram_detail = (
            "SCRAM-SHA-512 is not in sasl.enabled.mechanisms (Skiff's keys are SCRAM users)"
        )
    check.add("scram", scram_ok, scram_detail)

    if configs:
        authorizer = (_value(configs, "authorizer.class.name") or "").strip()
        check.add(
            "authorizer",
            bool(authorizer),
            f"authorizer {authorizer}"
            if authorizer
            else "no authorizer (authorizer.class.name is empty): ACLs would not be enforced",
        )
        allow = _value(configs, "allow.everyone.if.no.acl.found")
        if allow is None:  # reported as sensitive (an authorizer key): ask the broker instead
            allow = _probe_allow_everyone(admin, connection)
        allow = allow.strip().lower()
        check.add(
            "allow_everyone",
            allow == "false",
            "allow.everyone.if.no.acl.found=false"
            if allow == "false"
            else f"allow.everyone.if.no.acl.found={allow}: must be false, or a topic without "
            "ACLs is open to every key",
        )
        rf = _int_value(configs, "default.replication.factor", 1)
        min_isr = _int_value(configs, "min.insync.replicas", 1)
        if len(brokers) >= 3:
            good = rf >= 3 and min_isr >= 2
            check.add(
                "replication",
                good,
                f"default.replication.factor={rf}, min.insync.replicas={min_isr}"
                + ("" if good else ": with 3 or more brokers both must be at least 3 and 2"),
            )
        else:
            check.add(
                "replication",
                True,
                f"{len(brokers)} broker(s): tenant topics get replication factor "
                f"{limits.cell_replication_factor(len(brokers))}",
            )

    # Metrics: every broker's endpoint answers and serves the per-topic traffic counters.
    try:
        check.metrics_urls = _metrics_urls(metrics_url, brokers)
    except ValidationFailed as exc:
        check.add("metrics", False, exc.messages[0] if exc.messages else "bad metrics URL")
        return check
    missing = sorted({b.node_id for b in brokers} - set(check.metrics_urls))
    auth = (metrics_username, metrics_password) if metrics_username else None
    failures = [f"no metrics URL for broker {node_id}" for node_id in missing]
    for node_id, url in sorted(check.metrics_urls.items()):
        try:
            text = (
                fetch(url, METRICS_TIMEOUT) if auth is None else fetch(url, METRICS_TIMEOUT, auth)
            )
            metrics = parse_broker_metrics(text)
        except (OSError, urllib.error.URLError, MetricsParseError, ValueError) as exc:
            failures.append(f"broker {node_id}'s metrics endpoint {url} did not answer ({exc})")
            continue
        if BYTES_IN_FAMILY not in text and not metrics.counters:
            failures.append(
                f"broker {node_id}'s metrics endpoint {url} does not serve {BYTES_IN_FAMILY} "
                "(see docs/fleet.md for the exporter's rules)"
            )
    check.add(
        "metrics",
        not failures,
        "; ".join(failures) if failures else f"metrics endpoints answer for {len(brokers)} brokers",
    )
    return check


PROBE_USER = "skiff-registration-probe"


def _probe_allow_everyone(admin: PlatformSuperuser, connection: KafkaConnection) -> str:
    """ "true" when a principal without any ACL may describe a topic nobody has ACLs for.

    A SCRAM user of its own (the same name each time) asks for a random topic's metadata: with
    allow.everyone.if.no.acl.found=false the authorizer refuses (TOPIC_AUTHORIZATION_FAILED).
    The user is revoked afterwards (Kafka 4.3.1 cannot safely delete a SCRAM credential, see
    fleet.kafka.scram), and a topic the broker created for the request is deleted.
    """
    password = secrets.token_urlsafe(24)
    topic = f"skiff-probe-{secrets.token_hex(6)}"
    admin.create_scram_user(PROBE_USER, password)
    probe = replace(connection, username=PROBE_USER, password=password, timeout=10.0)
    deadline = time.monotonic() + PROBE_TIMEOUT
    try:
        while True:
            try:
                error = topic_metadata_error(probe, topic)
                break
            except KafkaAuthenticationFailed:
                # KRaft brokers apply a new SCRAM credential when they replay the metadata log.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        admin.revoke_scram_user(PROBE_USER)
        admin.delete_topic(topic, missing_ok=True)
    return "false" if error == "TOPIC_AUTHORIZATION_FAILED" else "true"


def _scram_listener_values(configs: dict[str, ConfigEntryDescription]) -> str:
    return " ".join(
        entry.value or ""
        for name, entry in configs.items()
        if name.startswith("listener.name.") and name.endswith(".sasl.enabled.mechanisms")
    )


def external_cell_dir(name: str) -> Path:
    return Path(settings.SKIFF_HOME) / "cells" / name


def register_external_cell(
    *,
    name: str,
    bootstrap_servers: str,
    username: str,
    password: str,
    ca_pem: str,
    metrics_url: str,
    metrics_username: str = "",
    metrics_password: str = "",
    client_bootstrap_servers: str = "",
    admission: str = Cell.Admission.OPEN,
    fetch: Callable[..., str] = fetch_metrics_text,
) -> Cell:
    """Check the cell and, if it passes, record it (kind external) with its brokers.

    Raises CellRefused (a 400 naming every failed requirement) and records nothing when the
    check fails; ValidationFailed for malformed input or a name already taken.
    """
    name = name.strip().lower()
    errors: dict[str, str] = {}
    if not _NAME.match(name):
        errors["name"] = "2-50 lowercase letters, digits and '-', starting and ending alphanumeric."
    elif Cell.objects.filter(name=name).exists():
        errors["name"] = f"A cell named '{name}' exists already."
    if not bootstrap_servers.strip():
        errors["bootstrap_servers"] = "Give at least one host:port."
    if not username or not password:
        errors["username"] = "The admin SCRAM credential (username and password) is required."
    if "-----BEGIN CERTIFICATE-----" not in ca_pem:
        errors["ca_pem"] = "Paste the CA certificate in PEM (-----BEGIN CERTIFICATE----- ...)."
    if not metrics_url.strip():
        errors["metrics_url"] = "Give the brokers' metrics URL (see the help below the field)."
    if admission not in Cell.Admission.values:
        errors["admission"] = f"One of {', '.join(Cell.Admission.values)}."
    if errors:
        raise ValidationFailed(errors)

    with tempfile.TemporaryDirectory(prefix="skiff-register-") as scratch:
        ca_scratch = Path(scratch) / "ca.pem"
        certs.write_private_file(ca_scratch, ca_pem)
        check = check_external_cell(
            bootstrap_servers=bootstrap_servers.strip(),
            username=username,
            password=password,
            ca_path=ca_scratch,
            metrics_url=metrics_url,
            metrics_username=metrics_username,
            metrics_password=metrics_password,
            fetch=fetch,
        )
    if not check.ok or check.cluster is None:
        raise CellRefused(check)

    directory = certs.ensure_private_dir(external_cell_dir(name))
    ca_path = directory / "ca.pem"
    credentials_path = directory / "credentials.json"
    certs.write_private_file(ca_path, ca_pem)
    credentials = {
        "admin_username": username,
        "admin_password": password,
        "admin_sasl_mechanism": "SCRAM-SHA-512",
    }
    if metrics_username:
        credentials |= {"metrics_username": metrics_username, "metrics_password": metrics_password}
    certs.write_private_file(credentials_path, json.dumps(credentials, indent=2))

    with transaction.atomic():
        cell = Cell.objects.create(
            name=name,
            kind=Cell.Kind.EXTERNAL,
            kafka_cluster_id=check.cluster.cluster_id,
            bootstrap_servers=bootstrap_servers.strip(),
            client_bootstrap_servers=client_bootstrap_servers.strip(),
            credentials_path=str(credentials_path),
            ca_path=str(ca_path),
            state=Cell.State.HEALTHY,
            admission=admission,
        )
        for broker in check.cluster.brokers:
            Broker.objects.create(
                cell=cell,
                node_id=broker.node_id,
                host=broker.host,
                port=broker.port,
                rack=broker.rack or "",
                metrics_url=check.metrics_urls[broker.node_id],
                roles="broker",
                state=Broker.State.UP,
            )
        fleet_audit(
            action="cell.register",
            target=cell,
            after={
                "bootstrap_servers": cell.bootstrap_servers,
                "brokers": [b.node_id for b in check.cluster.brokers],
                "admission": cell.admission,
                "checks": [r.detail for r in check.results],
            },
        )
    return cell


def set_cell_admission(*, cell: Cell, admission: str) -> Cell:
    """Open, drain or close a cell to new clusters (clusters already there stay)."""
    if admission not in Cell.Admission.values:
        raise ValidationFailed({"admission": f"One of {', '.join(Cell.Admission.values)}."})
    with transaction.atomic():
        before = Cell.objects.select_for_update().get(pk=cell.pk).admission
        Cell.objects.filter(pk=cell.pk).update(admission=admission)
        cell.refresh_from_db(fields=["admission", "updated_at"])
        if before != admission:
            fleet_audit(
                action="cell.admission",
                target=cell,
                before={"admission": before},
                after={"admission": admission},
            )
    return cell
