import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.periods import hour_floor
from billing.services.rollup import rollup_hour, rollup_pending


class Command(BaseCommand):
    help = (
        "Write hourly usage records from the metering sources: every closed hour not rolled up "
        "yet (and the most recent ones again), or only the hour given with --hour."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hour",
            help="an ISO date-time in UTC, e.g. 2026-11-26T10:00 (rounded down to its hour)",
        )

    def handle(self, *args, hour, **options):
        now = timezone.now()
        if hour is None:
            hours = rollup_pending(now)
            self.stdout.write(f"Rolled up {len(hours)} hour(s).")
            for rolled in hours:
                self.stdout.write(f"  {rolled:%Y-%m-%d %H:00} UTC")
            return
        try:
            moment = dt.datetime.fromisoformat(hour)
        except ValueError:
            raise CommandError(
                f"--hour must be an ISO date-time like 2026-11-26T10:00, not {hour!r}."
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        try:
            records = rollup_hour(hour_floor(moment), now=now).rows
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{hour_floor(moment):%Y-%m-%d %H:00} UTC: {records} usage record(s).")
