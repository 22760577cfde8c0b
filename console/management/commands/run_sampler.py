"""`manage.py run_sampler`: the live throughput sampler as its own process (production)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from fleet.services.sampler import Publisher, Sampler, run_sampler_loop


class Command(BaseCommand):
    help = (
        "Scrape every broker's metrics every SAMPLER_INTERVAL seconds, push live throughput to "
        "the WebSocket groups and store per-minute usage rows. Stops on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between passes (default: the SAMPLER_INTERVAL setting, 1)",
        )
        parser.add_argument(
            "--passes", type=int, default=None, help="stop after this many passes (default: run)"
        )

    def handle(self, *args, interval, passes, **options):
        interval = settings.SKIFF_SAMPLER_INTERVAL if interval is None else interval
        if interval <= 0:
            self.stderr.write("--interval must be positive")
            return
        stop = threading.Event()

        def on_signal(signum, _frame):
            self.stdout.write(f"signal {signum}: finishing the current pass")
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        publisher = Publisher(heartbeat=settings.SKIFF_SAMPLER_HEARTBEAT or None)
        sampler = Sampler(publisher=publisher, flush_every=settings.SKIFF_SAMPLER_FLUSH_INTERVAL)
        self.stdout.write(
            f"Sampler: every {interval:g}s, broker timeout {sampler.timeout:g}s, "
            f"channel layer {type(publisher.layer).__name__}"
        )
        try:
            run_sampler_loop(interval=interval, stop=stop, sampler=sampler, max_passes=passes)
        finally:
            publisher.close()
