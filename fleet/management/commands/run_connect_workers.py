"""`manage.py run_connect_workers`: the runner of the compose topology's `connect` container
(issue 19). Every SKIFF_SUPERVISOR_INTERVAL seconds it makes the Kafka Connect worker JVMs of
this container match the ConnectWorker rows (fleet.services.connect_workers.
run_connect_workers_once): starts what the console asked for, restarts what died, stops what
the console stopped. Run with SKIFF_CONNECT_RUNNER=compose (docker-compose.yml sets it)."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from fleet.services.connect_workers import run_connect_workers_once


class Command(BaseCommand):
    help = "Run the Kafka Connect workers the console asks for (the compose `connect` service)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once: bool = False, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write("Running the Connect workers of this container; Ctrl-C stops.")
        while True:
            try:
                started = run_connect_workers_once()
            except Exception as exc:  # the runner must outlive any one bad pass
                self.stderr.write(f"pass failed: {exc}")
                started = []
            for prefix in started:
                self.stdout.write(f"Connect worker of {prefix} started")
            if once or stop.wait(settings.SKIFF_SUPERVISOR_INTERVAL):
                return
