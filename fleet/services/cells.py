"""Fleet services: start, stop and record local cells; admin connections to any cell."""

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fleet.kafka.connection import KafkaConnection
from fleet.kafka.platform import cell_connection
from fleet.models import Broker, Cell
from fleet.runtime.launcher import CellInfo, ConnectionLimits, LocalCell


def local_cell_dir(name: str) -> Path:
    return Path(settings.SKIFF_HOME) / "cells" / name


# Connection guard rails (issue 13): the launcher does not read Django settings; they reach
# every node's properties from here.
def connection_limits_from_settings() -> ConnectionLimits:
    return ConnectionLimits(
        max_connections_per_ip=settings.SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP,
        per_ip_overrides=settings.SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES,
        client_max_connections=settings.SKIFF_KAFKA_CLIENT_MAX_CONNECTIONS,
        client_creation_rate=settings.SKIFF_KAFKA_CLIENT_MAX_CONNECTION_CREATION_RATE,
        failed_authentication_delay_ms=settings.SKIFF_KAFKA_FAILED_AUTHENTICATION_DELAY_MS,
        reauth_ms=settings.SKIFF_KAFKA_CONNECTIONS_MAX_REAUTH_MS,
    )


def local_cell(name: str) -> LocalCell:
    return LocalCell(
        local_cell_dir(name),
        name=name,
        fleet_dir=Path(settings.SKIFF_FLEET_DIR),
        connection_limits=connection_limits_from_settings(),
    )


def fleet_up(
    *, name: str, nodes: int = 3, port_base: int | None = None, heap_mb: int | None = None
) -> Cell:
    """Start (or restart with its data) a local cell and record it and its brokers."""
    info = local_cell(name).up(
        nodes=nodes, port_base=port_base, heap_mb=heap_mb or settings.SKIFF_BROKER_HEAP_MB
    )
    return cell_record_local(info)


def fleet_down(*, name: str) -> None:
    """Stop exactly the broker processes this installation started for the cell."""
    local_cell(name).down()
    Cell.objects.filter(name=name).update(state=Cell.State.DOWN)
    Broker.objects.filter(cell__name=name).update(state=Broker.State.DOWN, pid=None)


def fleet_status(*, name: str) -> CellInfo | None:
    return local_cell(name).status()


@transaction.atomic
def cell_record_local(info: CellInfo) -> Cell:
    """Upsert the Cell and Broker rows for a running local cell."""
    cell, _ = Cell.objects.update_or_create(
        name=info.name,
        defaults={
            "kind": Cell.Kind.LOCAL,
            "kafka_cluster_id": info.cluster_id,
            "bootstrap_servers": info.bootstrap,
            "credentials_path": str(info.state_dir / "cell.json"),
            "ca_path": str(info.ca_path),
            "state": Cell.State.HEALTHY
            if all(node.alive for node in info.nodes)
            else Cell.State.DEGRADED,
        },
    )
    now = timezone.now()
    for node in info.nodes:
        Broker.objects.update_or_create(
            cell=cell,
            node_id=node.node_id,
            defaults={
                "host": node.host,
                "port": node.client_port,
                "metrics_url": f"http://{node.host}:{node.metrics_port}/metrics",
                "pid": node.pid,
                "state": Broker.State.UP if node.alive else Broker.State.DOWN,
                "last_seen_at": now if node.alive else None,
            },
        )
    cell.brokers.exclude(node_id__in=[node.node_id for node in info.nodes]).delete()
    return cell


@transaction.atomic
def cell_register_manifest(*, manifest_path: Path, name: str, kind: str) -> Cell:
    """Register (or refresh) a cell described by a manifest file, e.g. docker-compose's.

    The manifest holds the admin credential, so the Cell row keeps only its path.
    """
    manifest = json.loads(Path(manifest_path).read_text())
    cell, _ = Cell.objects.update_or_create(
        name=name,
        defaults={
            "kind": kind,
            "kafka_cluster_id": manifest.get("cluster_id", ""),
            "bootstrap_servers": manifest["bootstrap"],
            "client_bootstrap_servers": manifest.get("client_bootstrap", ""),
            "credentials_path": str(Path(manifest_path).resolve()),
            "ca_path": manifest["ca_path"],
            "state": Cell.State.HEALTHY,
        },
    )
    for node in manifest.get("nodes", []):
        host, _, port = node["internal_address"].rpartition(":")
        Broker.objects.update_or_create(
            cell=cell,
            node_id=node["node_id"],
            defaults={"host": host, "port": int(port), "metrics_url": node["metrics_url"]},
        )
    return cell


def cell_admin_connection(cell: Cell) -> KafkaConnection:
    """The platform's super-user connection to a cell (see fleet.kafka.platform)."""
    return cell_connection(cell)
