"""The configuration of a docker-compose cell (docker-compose.yml's ``fleet-init`` step).

``write_compose_cell`` writes everything the ``kafka-N`` containers and the console need into
the shared ``fleet`` volume, reusing the local launcher's secured node configuration
(``launcher.render_node_properties``) and the platform CA helpers (``certs``)::

    <out_dir>/cluster.id                     the KRaft cluster id (shared by all nodes)
    <out_dir>/cell.json                      what the console needs: bootstrap servers, admin
                                             credential, CA path, metrics URLs (0600)
    <out_dir>/ca.pem                         the CA certificate tenants' clients trust
    <out_dir>/<host>/server.properties       rendered on every run (0600)
    <out_dir>/<host>/format.args             `kafka-storage format` extra arguments, one per
                                             line: the bootstrap admin SCRAM credential (0600)
    <out_dir>/<host>/keystore.pem, truststore.pem, node.pem
    <ca_dir>/ca.pem, ca-key.pem              the CA key, in a volume only fleet-init mounts

It is idempotent: the CA, cluster id and credentials are created once and kept; node
certificates are re-issued only when missing, close to expiry, or lacking a needed name (e.g.
after ``SKIFF_KAFKA_EXTERNAL_HOST`` changed). Storage is formatted by each container's
``fleet/docker-entrypoint.sh``, not here.

Listeners per node (all names as in ``render_node_properties``):
    CLIENT      SASL_SSL, SCRAM-SHA-512   tenants, published on the host as
                                          <external_host>:<external_base_port + i>
    INTERNAL    SASL_SSL, PLAIN           inter-broker (user ``controller``) and the console
                                          (user ``admin``; kafka-N:9092): no tenant user
    CONTROLLER  SASL_PLAINTEXT, PLAIN     KRaft quorum (kafka-N:9093), user ``controller``

The console is inside the compose network and cannot dial CLIENT's advertised (host-side)
address, so INTERNAL also lists the platform admin; tenants' SCRAM users fail SASL there.
Connection guard rails come from the SKIFF_KAFKA_* variables (``ConnectionLimits.from_env``);
each node's metrics endpoint asks for the cell's metrics credential (``<host>/jmx-exporter.yaml``,
the password in ``cell.json``), and so does its per-topic metrics endpoint (port 7072, issue 20).

    python -m fleet.runtime.compose --out /fleet --ca-dir /fleet-ca
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from fleet.runtime import certs, topic_policy
from fleet.runtime.classpath import DEFAULT_FLEET_DIR
from fleet.runtime.launcher import (
    ADMIN_USERNAME,
    CONTROLLER_USERNAME,
    METRICS_USERNAME,
    ConnectionLimits,
    NodeAddress,
    TopicMetricsEndpoint,
    new_cluster_id,
    render_metrics_config,
    render_node_properties,
    replication_defaults,
)

DEFAULT_HOSTNAMES = ("kafka-1", "kafka-2", "kafka-3")
INTERNAL_PORT = 9092
CONTROLLER_PORT = 9093
METRICS_PORT = 7071
# Each broker's own per-topic metrics endpoint (issue 20), read by the sampler every second.
TOPIC_METRICS_PORT = 7072
EXTERNAL_BASE_PORT = 19092
# Where each container mounts its data volume (fleet/Dockerfile: VOLUME /var/lib/kafka/data).
DATA_DIR = "/var/lib/kafka/data"
MANIFEST_NAME = "cell.json"
MANIFEST_VERSION = 1
RENEW_BEFORE = dt.timedelta(days=30)


class ComposeCellError(RuntimeError):
    """The compose cell's configuration cannot be written as asked."""


def _new_password() -> str:
    return secrets.token_urlsafe(32)


def _load_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ComposeCellError(
            f"{path} is not valid JSON ({exc}); restore it or remove the volume"
        ) from exc


def _san_names(host: str, external_host: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a node certificate must carry."""
    dns = [host]
    ips = ["127.0.0.1"]
    try:
        ipaddress.ip_address(external_host)
    except ValueError:
        dns.append(external_host)
    else:
        ips.append(external_host)
    return dns, ips


def _certificate_fits(
    cert_path: Path, dns: Sequence[str], ips: Sequence[str], ca_pem: bytes
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (FileNotFoundError, ValueError):
        return False
    ca = x509.load_pem_x509_certificate(ca_pem)
    if cert.issuer != ca.subject:
        return False
    if cert.not_valid_after_utc - RENEW_BEFORE < dt.datetime.now(dt.UTC):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(dns) <= have_dns and {str(ipaddress.ip_address(i)) for i in ips} <= have_ips


def write_compose_cell(
    out_dir: Path,
    nodes: int = 3,
    hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
    *,
    ca_dir: Path | None = None,
    external_host: str = "localhost",
    external_base_port: int = EXTERNAL_BASE_PORT,
    cell_name: str = "compose",
    data_dir: str = DATA_DIR,
    connection_limits: ConnectionLimits | None = None,
    metrics_base_config: Path | None = None,
) -> dict[str, Any]:
    """Write (or refresh) the configuration of a compose cell of ``nodes`` KRaft nodes.

    ``hostnames[i]`` is node ``i + 1``'s compose service name and its directory under
    ``out_dir``. Returns the manifest written to ``out_dir/cell.json`` (it holds the admin
    password: do not log it). ``data_dir`` is the log.dirs path inside each node's container
    (``{host}`` in it is replaced by the node's host name, for running nodes side by side).
    """
    out_dir = Path(out_dir)
    ca_dir = Path(ca_dir) if ca_dir is not None else out_dir / "ca"
    hosts = tuple(hostnames)[:nodes]
    if nodes < 1:
        raise ComposeCellError("a cell needs at least one node")
    if len(hosts) < nodes:
        raise ComposeCellError(f"{nodes} nodes need {nodes} hostnames, got {len(tuple(hostnames))}")
    if len(set(hosts)) != len(hosts):
        raise ComposeCellError(f"hostnames must be distinct: {hosts}")
    if not external_host or any(c.isspace() or c in ",:/" for c in external_host):
        raise ComposeCellError(f"external host {external_host!r} is not a host name or IP address")

    certs.ensure_private_dir(out_dir)
    manifest_path = out_dir / MANIFEST_NAME
    previous = _load_manifest(manifest_path)
    if previous is not None:
        previous_hosts = tuple(n["host"] for n in previous.get("nodes", []))
        if previous_hosts != hosts:
            # The quorum voters and every node's formatted storage are tied to these names.
            raise ComposeCellError(
                f"this volume holds a cell of nodes {previous_hosts}; refusing to rewrite it as "
                f"{hosts} (a KRaft quorum cannot be reshaped by editing its configuration)"
            )
        cluster_id = previous["cluster_id"]
        admin_password = previous["admin_password"]
        controller_password = previous["controller_password"]
        # Metrics behind authentication (issue 13): volumes from before it get one now.
        metrics_password = previous.get("metrics_password") or _new_password()
    else:
        cluster_id = new_cluster_id()
        admin_password = _new_password()
        controller_password = _new_password()
        metrics_password = _new_password()
    metrics_config = render_metrics_config(
        Path(metrics_base_config or DEFAULT_FLEET_DIR / "config" / "jmx-exporter.yaml").read_text(),
        username=METRICS_USERNAME,
        password=metrics_password,
        # The per-topic series come from each node's TopicMetricsEndpoint (issue 20).
        topic_series=False,
    )

    ca = certs.ensure_ca(ca_dir, common_name=f"Skiff cell {cell_name} CA")
    ca_pem = ca.cert_path.read_bytes()
    certs.write_private_file(out_dir / "ca.pem", ca_pem)
    certs.write_private_file(out_dir / "cluster.id", cluster_id + "\n")

    addresses = [
        NodeAddress(
            node_id=i + 1,
            host=host,
            client_port=external_base_port + i,
            internal_port=INTERNAL_PORT,
            controller_port=CONTROLLER_PORT,
            bind_host="0.0.0.0",  # noqa: S104 (inside the container's own network namespace)
            client_advertised=f"{external_host}:{external_base_port + i}",
        )
        for i, host in enumerate(hosts)
    ]
    replication_factor, min_insync = replication_defaults(nodes)
    for address in addresses:
        node_dir = certs.ensure_private_dir(out_dir / address.host)
        dns, ips = _san_names(address.host, external_host)
        if not _certificate_fits(node_dir / "node.pem", dns, ips, ca_pem):
            certs.issue_node_certificate(
                ca,
                node_dir,
                f"skiff-{cell_name}-{address.host}",
                hostnames=dns,
                ip_addresses=ips,
            )
        properties = render_node_properties(
            address,
            voters=addresses,
            log_dir=data_dir.replace("{host}", address.host),
            keystore_path=str(node_dir / "keystore.pem"),
            truststore_path=str(node_dir / "truststore.pem"),
            admin_password=admin_password,
            controller_password=controller_password,
            replication_factor=replication_factor,
            # Guard rails (issue 13): connection limits; the console's admin on INTERNAL.
            connection_limits=connection_limits,
            internal_platform_login=True,
            # Topic policies (issue 13): rules rendered from fleet/topic_rules.py, beside it.
            policy_rules_path=str(node_dir / topic_policy.RULES_FILE_NAME),
            # Inside the compose network, like the exporter; same credential (issue 20).
            topic_metrics=TopicMetricsEndpoint(
                host="0.0.0.0",  # noqa: S104 (the container's own network namespace)
                port=TOPIC_METRICS_PORT,
                username=METRICS_USERNAME,
                password=metrics_password,
            ),
        )
        certs.write_private_file(
            node_dir / topic_policy.RULES_FILE_NAME,
            topic_policy.render_policy_rules(
                replication_factor=replication_factor,
                max_partitions=topic_policy.max_partitions_per_request(
                    nodes=nodes,
                    replication_factor=replication_factor,
                    partitions_per_broker=topic_policy.budget_from_env(os.environ),
                ),
            ),
        )
        certs.write_private_file(node_dir / "server.properties", properties)
        certs.write_private_file(node_dir / "jmx-exporter.yaml", metrics_config)
        certs.write_private_file(
            node_dir / "format.args",
            f"--add-scram\nSCRAM-SHA-512=[name={ADMIN_USERNAME},password={admin_password}]\n",
        )

    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "name": cell_name,
        "kind": "compose",
        "cluster_id": cluster_id,
        # For the console and workers inside the compose network (INTERNAL listener).
        "bootstrap": ",".join(f"{a.host}:{a.internal_port}" for a in addresses),
        # For tenants' clients outside it (CLIENT listener, published on the host).
        "client_bootstrap": ",".join(a.client_advertised or "" for a in addresses),
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "admin_username": ADMIN_USERNAME,
        "admin_password": admin_password,
        # The console's admin speaks PLAIN on INTERNAL (``bootstrap``), tenants SCRAM on CLIENT.
        "admin_sasl_mechanism": "PLAIN",
        "metrics_username": METRICS_USERNAME,
        "metrics_password": metrics_password,
        "controller_username": CONTROLLER_USERNAME,
        "controller_password": controller_password,
        "ca_path": str(out_dir / "ca.pem"),
        "replication_factor": replication_factor,
        "min_insync_replicas": min_insync,
        "nodes": [
            {
                "node_id": a.node_id,
                "host": a.host,
                "internal_address": f"{a.host}:{a.internal_port}",
                "client_address": a.client_advertised,
                "controller_address": f"{a.host}:{a.controller_port}",
                "metrics_url": f"http://{a.host}:{METRICS_PORT}/metrics",
                "topic_metrics_url": f"http://{a.host}:{TOPIC_METRICS_PORT}/metrics",
            }
            for a in addresses
        ],
    }
    certs.write_private_file(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fleet.runtime.compose",
        description="Write the configuration of a docker-compose Kafka cell (idempotent).",
    )
    parser.add_argument("--out", type=Path, required=True, help="the shared fleet volume")
    parser.add_argument("--ca-dir", type=Path, default=None, help="where the CA key lives")
    parser.add_argument("--nodes", type=int, default=len(DEFAULT_HOSTNAMES))
    parser.add_argument(
        "--hostnames",
        default=",".join(DEFAULT_HOSTNAMES),
        help="comma-separated compose service names of the nodes",
    )
    parser.add_argument(
        "--external-host",
        default=os.environ.get("SKIFF_KAFKA_EXTERNAL_HOST", "localhost"),
        help="name tenants' clients use to reach the brokers (default: $SKIFF_KAFKA_EXTERNAL_HOST)",
    )
    parser.add_argument("--external-base-port", type=int, default=EXTERNAL_BASE_PORT)
    args = parser.parse_args(argv)
    try:
        manifest = write_compose_cell(
            args.out,
            nodes=args.nodes,
            hostnames=[h.strip() for h in args.hostnames.split(",") if h.strip()],
            ca_dir=args.ca_dir,
            external_host=args.external_host,
            external_base_port=args.external_base_port,
            connection_limits=ConnectionLimits.from_env(os.environ),
        )
    except (ComposeCellError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"compose cell {manifest['name']}  cluster id {manifest['cluster_id']}")
    print(f"  console bootstrap  {manifest['bootstrap']}")
    print(f"  client bootstrap   {manifest['client_bootstrap']}  (SASL_SSL, SCRAM-SHA-512)")
    print(f"  CA                 {manifest['ca_path']}; manifest {args.out / MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
