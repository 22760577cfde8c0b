"""Fleet services: start, stop and record local cells; admin connections to any cell.

Brokers of a local cell (issue 14): `add_local_broker` starts a broker-only KRaft node
(process.roles=broker) that joins the cell's existing controller quorum, with the same
listeners, TLS, SCRAM, topic policies and metrics exporter as the first nodes; it holds no
replicas until a rebalance moves some there. `retire_local_broker` stops such a broker,
unregisters it (UnregisterBroker) and forgets it; its row stays as UNREGISTERED. The first nodes
are the quorum's voters and cannot be retired. `restart_local_broker` is a controlled stop and
start of one node. Compose and registered (external) cells: not supported; the platform does not
start or stop their brokers (ValidationFailed, code cell_not_local).
"""

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.errors import ServiceUnavailable, ValidationFailed
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.platform import cell_connection, platform_superuser
from fleet.models import Broker, Cell
from fleet.runtime.launcher import CellError, CellInfo, ConnectionLimits, LocalCell, NodeInfo


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
    for node in info.nodes:
        _record_node(cell, node)
    # A retired broker (issue 14) keeps its row as UNREGISTERED, for the cell page's history.
    cell.brokers.exclude(node_id__in=[node.node_id for node in info.nodes]).exclude(
        state=Broker.State.UNREGISTERED
    ).delete()
    return cell


def _record_node(cell: Cell, node: NodeInfo) -> Broker:
    broker, _ = Broker.objects.update_or_create(
        cell=cell,
        node_id=node.node_id,
        defaults={
            "host": node.host,
            "port": node.client_port,
            "metrics_url": node.metrics_url,
            # "" for a node running from before the endpoint existed (the sampler reads its
            # exporter until it restarts).
            "topic_metrics_url": node.topic_metrics_url,
            "pid": node.pid,
            "state": Broker.State.UP if node.alive else Broker.State.DOWN,
            "last_seen_at": timezone.now() if node.alive else None,
            "roles": node.roles,
            "rack": node.rack,
        },
    )
    return broker


# --------------------------------------------------------------------------------------------
# Brokers of a local cell (issue 14): add, retire, restart
# --------------------------------------------------------------------------------------------


def cell_launcher(cell: Cell) -> LocalCell:
    """The launcher of a local cell, found from its recorded state file (any state dir)."""
    if cell.kind != Cell.Kind.LOCAL:
        raise ValidationFailed(
            f"Cell '{cell.name}' is a {cell.get_kind_display()} cell: the platform starts and "
            "stops brokers only on local cells.",
            code="cell_not_local",
        )
    return LocalCell(
        Path(cell.credentials_path).parent,
        name=cell.name,
        fleet_dir=Path(settings.SKIFF_FLEET_DIR),
        connection_limits=connection_limits_from_settings(),
    )


def _unavailable(cell: Cell, action: str, exc: CellError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"{action} on cell '{cell.name}' failed: {str(exc).splitlines()[0]}",
        code="cell_runtime_failed",
    )


def _refresh_cell(cell: Cell, info: CellInfo) -> None:
    cell.bootstrap_servers = info.bootstrap
    cell.save(update_fields=["bootstrap_servers", "updated_at"])


def add_local_broker(*, cell: Cell, rack: str = "") -> Broker:
    """Start a broker-only node that joins the cell's controller quorum; record its row.

    The new broker holds no replicas until a rebalance moves some there (fleet operations).
    """
    launcher = cell_launcher(cell)
    try:
        info = launcher.add_broker(heap_mb=settings.SKIFF_BROKER_HEAP_MB, rack=rack)
    except CellError as exc:
        raise _unavailable(cell, "Adding a broker", exc) from exc
    node = max(info.nodes, key=lambda n: n.node_id)
    with transaction.atomic():
        _refresh_cell(cell, info)
        return _record_node(cell, node)


def retire_local_broker(*, cell: Cell, node_id: int) -> None:
    """Stop an added broker, unregister it from the cluster metadata, forget its node.

    The caller has moved its replicas away first (a remove-brokers plan); a broker that still
    holds replicas leaves them under-replicated. Safe to call again after a partial failure.
    """
    launcher = cell_launcher(cell)
    status = launcher.status()
    known = status is not None and any(n.node_id == node_id for n in status.nodes)
    if known:
        node = next(n for n in status.nodes if n.node_id == node_id)  # type: ignore[union-attr]
        if node.is_controller:
            raise ValidationFailed(
                f"Broker {node_id} of cell '{cell.name}' is a controller (a voter of the "
                "quorum): only brokers added later can be removed.",
                code="broker_is_controller",
            )
        try:
            launcher.stop_node(node_id)
        except CellError as exc:
            raise _unavailable(cell, f"Stopping broker {node_id}", exc) from exc
    platform_superuser(cell).unregister_broker(node_id)
    if known:
        try:
            launcher.retire_node(node_id)
        except CellError as exc:
            raise _unavailable(cell, f"Retiring broker {node_id}", exc) from exc
    info = launcher.status()
    with transaction.atomic():
        if info is not None:
            _refresh_cell(cell, info)
        Broker.objects.filter(cell=cell, node_id=node_id).update(
            state=Broker.State.UNREGISTERED, pid=None
        )


def restart_local_broker(*, cell: Cell, node_id: int, timeout: float = 90) -> Broker:
    """Stop one node (controlled shutdown) and start it again; returns once the cell serves."""
    launcher = cell_launcher(cell)
    try:
        launcher.stop_node(node_id)
        info = launcher.start_node(node_id, timeout=timeout, heap_mb=settings.SKIFF_BROKER_HEAP_MB)
    except CellError as exc:
        raise _unavailable(cell, f"Restarting broker {node_id}", exc) from exc
    node = next(n for n in info.nodes if n.node_id == node_id)
    return _record_node(cell, node)


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
            defaults={
                "host": host,
                "port": int(port),
                "metrics_url": node["metrics_url"],
                # Manifests written before issue 20 have none: the sampler reads the exporter.
                "topic_metrics_url": node.get("topic_metrics_url", ""),
            },
        )
    return cell


def cell_admin_connection(cell: Cell) -> KafkaConnection:
    """The platform's super-user connection to a cell (see fleet.kafka.platform)."""
    return cell_connection(cell)
