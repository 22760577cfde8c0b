from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fleet.kafka.errors import KafkaGatewayError
from fleet.models import Cell
from fleet.runtime.launcher import CellError
from fleet.services.cells import (
    cell_register_manifest,
    fleet_down,
    fleet_status,
    fleet_up,
)
from fleet.services.supervisor import SupervisorThread


class Command(BaseCommand):
    help = (
        "Start, stop or inspect a local cell of KRaft Kafka brokers (up | down | status), "
        "or supervise the local cells: start again a broker that died (supervise)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "down", "status", "register", "supervise"])
        parser.add_argument("--name", default=settings.SKIFF_LOCAL_CELL_NAME, help="cell name")
        parser.add_argument("--nodes", type=int, default=3, help="nodes (1 = light mode)")
        parser.add_argument("--port-base", type=int, default=None, help="first port of the cell")
        parser.add_argument(
            "--heap-mb",
            type=int,
            default=settings.SKIFF_BROKER_HEAP_MB,
            help="JVM heap per broker (SKIFF_BROKER_HEAP_MB)",
        )
        parser.add_argument("--manifest", help="register: the cell manifest (JSON) to record")
        parser.add_argument(
            "--kind", default=Cell.Kind.COMPOSE, choices=[Cell.Kind.COMPOSE, Cell.Kind.EXTERNAL]
        )

    def handle(self, *args, action, name, nodes, port_base, heap_mb, manifest, kind, **options):
        try:
            if action == "register":
                if not manifest:
                    raise CommandError("register needs --manifest PATH.")
                cell = cell_register_manifest(manifest_path=Path(manifest), name=name, kind=kind)
                self.stdout.write(f"Registered cell '{cell.name}': {cell.bootstrap_servers}")
                return
            if action == "supervise":
                self.stdout.write("Supervising the local cells; Ctrl-C stops.")
                supervisor = SupervisorThread(heap_mb=heap_mb)
                supervisor.start()
                try:
                    supervisor.join()
                except KeyboardInterrupt:
                    supervisor.stop()
                return
            if action == "up":
                if nodes < 1:
                    raise CommandError("--nodes must be at least 1.")
                cell = fleet_up(name=name, nodes=nodes, port_base=port_base, heap_mb=heap_mb)
                self.stdout.write(
                    f"Cell '{cell.name}' is up: {cell.brokers.count()} broker(s), "
                    f"bootstrap {cell.bootstrap_servers} (SASL_SSL, SCRAM-SHA-512)."
                )
            elif action == "down":
                fleet_down(name=name)
                self.stdout.write(f"Cell '{name}' is stopped.")
            else:
                info = fleet_status(name=name)
                if info is None:
                    self.stdout.write(f"Cell '{name}' has never been started here.")
                    return
                for node in info.nodes:
                    state = "up" if node.alive else "down"
                    self.stdout.write(
                        f"node {node.node_id}: {state:4} pid={node.pid or '-'} "
                        f"client={node.host}:{node.client_port} "
                        f"metrics=http://{node.host}:{node.metrics_port}/metrics"
                    )
        except (CellError, KafkaGatewayError, OSError, KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
