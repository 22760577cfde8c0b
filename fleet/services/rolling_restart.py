"""Rolling restart of a local cell's brokers, one at a time (issue 14).

For each node: wait until the cell is whole (every partition's ISR equals its replica list,
internal topics included, the controller quorum has a leader and every broker is registered and
unfenced), apply the node's new settings (``broker_config``, kept in the cell's state and
rendered into that node's properties), stop it with a controlled shutdown (its leaderships move
first), start it, and wait until the cell is whole again before the next one. Broker-only nodes
go first, then the controllers, the quorum's active leader last, so the quorum changes leader
once at most.

A producer with acks=all and idempotence loses nothing and writes nothing twice through it: at
any moment at most one replica of a partition is away, so min.insync.replicas=2 of RF 3 holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from console.errors import GatewayTimeout, ValidationFailed
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import PlatformSuperuser, platform_superuser
from fleet.models import Cell
from fleet.runtime.launcher import CellError, check_node_config_entry
from fleet.services.cells import cell_launcher, restart_local_broker

logger = logging.getLogger(__name__)

# How long the cell may take to be whole again after one broker's restart.
ISR_TIMEOUT_SECONDS = 180.0


def rolling_restart(
    *,
    cell: Cell,
    broker_config: Mapping[str, str] | None,
    on_progress: Callable[[dict[str, object]], None],
    should_stop: Callable[[], bool],
    isr_timeout: float = ISR_TIMEOUT_SECONDS,
) -> None:
    """Restart every broker of a local cell in turn, applying ``broker_config`` to each.

    ``on_progress`` receives dicts with ``step`` ("waiting", "restarting", "restarted",
    "stopped", "done"), ``node_id``, ``done`` and ``total``. ``should_stop`` is asked before
    each broker: a cancelled restart stops between brokers, never with one of them down.
    Raises GatewayTimeout when the cell is not whole again within ``isr_timeout``.
    """
    for key, value in (broker_config or {}).items():
        try:
            check_node_config_entry(key, value)
        except CellError as exc:
            raise ValidationFailed(str(exc), code="invalid_broker_config") from exc
    launcher = cell_launcher(cell)
    status = launcher.status()
    if status is None:
        raise ValidationFailed(f"Cell '{cell.name}' has no local state.", code="cell_not_local")
    admin = platform_superuser(cell)
    order = _restart_order(admin, [(n.node_id, n.is_controller) for n in status.nodes])
    total = len(order)
    for done, node_id in enumerate(order):
        base = {"node_id": node_id, "done": done, "total": total}
        if should_stop():
            on_progress({**base, "step": "stopped"})
            return
        on_progress({**base, "step": "waiting"})
        wait_until_whole(admin, expected_brokers=set(order), timeout=isr_timeout)
        on_progress({**base, "step": "restarting"})
        if broker_config:
            launcher.set_node_config(node_id, broker_config)
        restart_local_broker(cell=cell, node_id=node_id)
        wait_until_whole(admin, expected_brokers=set(order), timeout=isr_timeout)
        on_progress({**base, "done": done + 1, "step": "restarted"})
    on_progress({"node_id": None, "done": total, "total": total, "step": "done"})


def _restart_order(admin: PlatformSuperuser, nodes: list[tuple[int, bool]]) -> list[int]:
    try:
        leader = admin.describe_quorum().leader_id
    except KafkaGatewayError:
        leader = -1
    # Brokers first, then controllers, the active controller last.
    return [node_id for node_id, _ in sorted(nodes, key=lambda n: (n[1], n[0] == leader, n[0]))]


def cell_problems(admin: PlatformSuperuser, *, expected_brokers: set[int]) -> list[str]:
    """What keeps the cell from being whole; empty when it is.

    Registration comes from DescribeCluster by librdkafka (a cached client; it lists the
    unfenced brokers only), the ISRs from the metadata of every topic, internal ones included;
    the quorum (kafka-python, a new connection per call) is asked only once the rest is whole.
    """
    problems: list[str] = []
    registered = {b.node_id for b in admin.describe_cluster().brokers}
    missing = sorted(expected_brokers - registered)
    if missing:
        problems.append(f"brokers not registered or fenced: {missing}")
    short = [
        f"{topic}-{p.id}"
        for topic, description in admin.list_topics(include_internal=True).items()
        for p in description.partitions
        if set(p.isr) != set(p.replicas) or p.leader < 0
    ]
    if short:
        problems.append(
            f"{len(short)} partition(s) without a full ISR, e.g. {', '.join(short[:5])}"
        )
    if not problems and admin.describe_quorum().leader_id < 0:
        problems.append("the controller quorum has no leader")
    return problems


def wait_until_whole(
    admin: PlatformSuperuser, *, expected_brokers: set[int], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = "no check yet"
    while True:
        try:
            problems = cell_problems(admin, expected_brokers=expected_brokers)
        except KafkaGatewayError as exc:
            # Staff-only operation: the client's own words help more than a generic sentence.
            problems = [f"{exc.message} [{exc.detail}]" if exc.detail else exc.message]
            logger.warning("rolling restart: checking the cell failed: %s", problems[0])
        if not problems:
            return
        last = "; ".join(problems)
        if time.monotonic() >= deadline:
            raise GatewayTimeout(
                f"The cell was not whole again within {timeout:g} s ({last}); the rolling "
                "restart stopped there.",
                code="rolling_restart_timeout",
            )
        time.sleep(0.5)
