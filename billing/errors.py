"""Billing's errors: a request that cannot be done, with a message for the user.

`BillingError` lives here, below every billing module, so the price book can raise it as well
as the invoice services (which re-export it). `FinalizedInvoiceError` stays with the models
that enforce it.
"""

from console.errors import ApplicationError


class BillingError(ApplicationError, ValueError):
    """A billing request that cannot be done (400); the message is for the user.

    Still a ValueError, for callers that catch that (the month parsers raise it too).
    """

    status = 400
    code = "billing_refused"


class PriceBookEmptyError(BillingError):
    """Usage was to be priced, but the price book has no prices at all.

    The migration seeds the default prices, and lookups never write, so this means the table
    was emptied (a restore without it, a flushed test database).
    """

    status = 503  # the platform's data is missing, not the user's request wrong
    code = "price_book_empty"
