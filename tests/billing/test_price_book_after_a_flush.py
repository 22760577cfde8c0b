"""A transactional test leaves the tables empty (pytest-django flushes them after it), price book
included; the `default_price_book` fixture (tests/plugins/price_book.py) gives every later test
the default prices back, so priced pages work without any lookup writing (commit e281634 made
lookups reseed; the fixture does it now). The two tests run in this order."""

import pytest

from billing.models import PriceVersion
from billing.services.price_book import DEFAULT_PRICES, DEFAULT_PRICES_EFFECTIVE_FROM
from tests.billing.helpers import browser, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transactional_test_empties_the_price_book_for_the_tests_after_it():
    PriceVersion.objects.all().delete()  # committed; the flush after this test does the same
    assert not PriceVersion.objects.exists()


def test_the_next_test_starts_with_the_default_prices_and_the_usage_page_works():
    assert (
        dict(
            PriceVersion.objects.filter(effective_from=DEFAULT_PRICES_EFFECTIVE_FROM).values_list(
                "meter", "unit_price"
            )
        )
        == DEFAULT_PRICES
    )
    assert browser(member()).get("/billing/").status_code == 200
