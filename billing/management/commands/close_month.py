from django.core.management.base import BaseCommand, CommandError

from billing.errors import BillingError
from billing.periods import parse_month
from billing.services.invoices import close_month


class Command(BaseCommand):
    help = (
        "Finalize every team's invoice of a month (after its end plus the grace period). "
        "Running it again, or after a crash, gives the same invoices and numbers."
    )

    def add_arguments(self, parser):
        parser.add_argument("month", help="YYYY-MM, e.g. 2026-11")

    def handle(self, *args, month, **options):
        try:
            result = close_month(parse_month(month))
        except (ValueError, BillingError) as exc:
            raise CommandError(str(exc)) from None
        numbers = f" ({result.numbers[0]} … {result.numbers[1]})" if result.numbers else ""
        self.stdout.write(
            f"{month}: {result.finalized} invoice(s) finalized now{numbers}, "
            f"{result.already_final} already final."
        )
