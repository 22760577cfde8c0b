from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.periods import format_month, parse_month
from billing.services.exports import write_finance_export


class Command(BaseCommand):
    help = (
        "Write the finance CSV of a month: every finalized, paid and void invoice with one row "
        "per line (columns: README, Billing). Drafts are not included."
    )

    def add_arguments(self, parser):
        parser.add_argument("month", help="YYYY-MM, e.g. 2026-11")
        parser.add_argument(
            "--out",
            help="File to write (replaced if it exists); '-' or nothing writes to stdout.",
        )

    def handle(self, *args, month, out=None, **options):
        try:
            period = parse_month(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if out in (None, "-"):
            count = write_finance_export(period, self.stdout)
            self.stderr.write(f"{format_month(period)}: {count} invoice(s).")
            return
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"Directory {path.parent} does not exist.")
        # Written next to the target and renamed at the end: a failed export never leaves a
        # half-written file where the previous one was.
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                count = write_finance_export(period, handle)
            partial.replace(path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.stdout.write(f"{format_month(period)}: {count} invoice(s) written to {path}.")
