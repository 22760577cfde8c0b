"""The price book as the migration leaves it, for every test that uses the database.

Price lookups never write (billing/services/price_book.py): an empty price book is an error.
pytest-django flushes every table after a transactional test (`transactional_db`, `live_app`),
the migration's seed included, and `--reuse-db` keeps what the last test left, so a test that
prices usage could otherwise meet an empty book. The fixture restores the defaults first; when
they are there it costs one query. A test that wants an empty book deletes the versions itself.
"""

from __future__ import annotations

import pytest

from billing.services.price_book import price_book_seed_defaults

DATABASE_FIXTURES = frozenset({"db", "transactional_db", "live_server"})


@pytest.fixture(autouse=True)
def default_price_book(request: pytest.FixtureRequest) -> None:
    uses_database = request.node.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES.intersection(request.fixturenames)
    )
    if not uses_database:
        return
    # The test's own database access (transactional when the test asked for that).
    request.getfixturevalue("db")
    price_book_seed_defaults()
