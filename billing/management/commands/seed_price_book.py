from django.core.management.base import BaseCommand

from billing.services.price_book import (
    DEFAULT_PRICES_EFFECTIVE_FROM,
    DEFAULT_PRICES_NOTE,
    price_book_seed_defaults,
)


class Command(BaseCommand):
    help = (
        "Restore the default prices the migration seeds, where they are missing (an emptied "
        "price book: a restore without it). Prices already there are left as they are."
    )

    def handle(self, *args, **options):
        added = price_book_seed_defaults()
        if added:
            self.stdout.write(
                f"Added {added} default price(s) ({DEFAULT_PRICES_NOTE}, from "
                f"{DEFAULT_PRICES_EFFECTIVE_FROM:%Y-%m-%d})."
            )
        else:
            self.stdout.write("The default prices are all there: nothing added.")
