"""The supervisor of local cells (issue 13): a broker that dies is started again.

Every `SKIFF_SUPERVISOR_INTERVAL` seconds it asks each local cell recorded in the database for
its crashed nodes (`LocalCell.crashed_nodes`: a pid file whose process is gone) and starts them
again with the cell's heap. A node the operator stopped (`manage.py fleet down`, `stop_node`)
has no pid file and is never restarted. Each restart is logged and the cell's Broker rows are
updated, so the fleet pages show the new pid.

It also watches the Kafka Connect workers of tenant clusters (issue 19): a worker whose JVM died
without being stopped is started again with its spec, and resumes its connectors from its
offsets topic (fleet/services/connect_workers.py, `restart_crashed_connect_workers`).

It runs as a thread of `manage.py run_console` (the embedded default) and as
`manage.py fleet supervise` (compose or a separate process in production).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from django.conf import settings

from fleet.models import Cell
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, LocalCell
from fleet.services.cells import cell_record_local, local_cell
from fleet.services.connect_workers import restart_crashed_connect_workers

logger = logging.getLogger(__name__)


def supervise_once(
    cells: Iterable[LocalCell], *, heap_mb: int | None = None
) -> dict[str, list[int]]:
    """One check of every cell: {cell name: nodes started again}."""
    restarted: dict[str, list[int]] = {}
    for cell in cells:
        crashed = cell.crashed_nodes()
        if not crashed:
            continue
        logger.warning("cell %s: node(s) %s died; starting them again", cell.name, crashed)
        try:
            started = cell.restart_crashed(heap_mb=heap_mb or settings.SKIFF_BROKER_HEAP_MB)
        except (CellError, RuntimeUnavailable, OSError) as exc:
            logger.error("cell %s: restarting node(s) %s failed: %s", cell.name, crashed, exc)
            continue
        if started:
            logger.warning("cell %s: node(s) %s restarted", cell.name, started)
            restarted[cell.name] = started
    return restarted


def local_cells() -> list[LocalCell]:
    """The local cells this installation launched (the Cell rows of kind LOCAL)."""
    return [
        local_cell(name)
        for name in Cell.objects.filter(kind=Cell.Kind.LOCAL).values_list("name", flat=True)
    ]


def record_restarts(restarted: dict[str, list[int]]) -> None:
    for name in restarted:
        info = local_cell(name).status()
        if info is not None:
            cell_record_local(info)


class SupervisorThread(threading.Thread):
    """Checks the cells every `interval` seconds until stopped (a daemon thread)."""

    def __init__(
        self,
        *,
        cells: Callable[[], Iterable[LocalCell]] | None = None,
        interval: float | None = None,
        heap_mb: int | None = None,
        on_restart: Callable[[dict[str, list[int]]], None] | None = None,
        connect_workers: Callable[[], list[str]] | None = None,
    ) -> None:
        super().__init__(name="skiff-supervisor", daemon=True)
        self.cells = cells or local_cells
        self.interval = interval if interval is not None else settings.SKIFF_SUPERVISOR_INTERVAL
        self.heap_mb = heap_mb
        self.on_restart = on_restart if on_restart is not None else record_restarts
        # The Connect step: on by default; a thread given its own `cells` (a test's cell)
        # checks Connect workers only when given this too.
        if connect_workers is None and cells is None:
            connect_workers = restart_crashed_connect_workers
        self.connect_workers = connect_workers
        self._stop_event = threading.Event()
        self.checks = 0  # completed checks (tests wait on it)

    def run(self) -> None:
        from django.db import connections

        try:
            while not self._stop_event.is_set():
                try:
                    restarted = supervise_once(self.cells(), heap_mb=self.heap_mb)
                    if restarted:
                        self.on_restart(restarted)
                except Exception:  # the watchdog must outlive any one bad check
                    logger.exception("supervisor check failed")
                if self.connect_workers is not None:
                    try:
                        self.connect_workers()
                    except Exception:
                        logger.exception("supervisor check of Connect workers failed")
                self.checks += 1
                self._stop_event.wait(self.interval)
        finally:
            connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.join(timeout)
