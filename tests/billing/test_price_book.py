"""The price book: new versions from today on, versions in effect never change (service, page,
Django admin), every change audited."""

import datetime as dt
import importlib
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from billing.errors import BillingError, PriceBookEmptyError
from billing.models import Meter, PriceVersion
from billing.services.price_book import (
    BILLING_UNITS,
    DEFAULT_PRICES,
    DEFAULT_PRICES_EFFECTIVE_FROM,
    METER_ORDER,
    METERS,
    USAGE_UNITS,
    PriceBook,
    price_book,
    price_version_create,
    price_version_delete,
    price_version_update,
    utc_today,
)
from console.models import AuditEvent
from tests.billing.helpers import api_for, browser, member
from tests.billing.sources import at
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)
NOW = at("2026-11-26 15:00")


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff_client():
    """Platform staff in no team (what the staff pages must work for)."""
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def errors_of(exc: pytest.ExceptionInfo) -> dict:
    return exc.value.message_dict


def snapshot():
    return list(PriceVersion.objects.order_by("pk").values())


# --- service ---------------------------------------------------------------------------------


def test_a_new_version_from_today_is_stored_exactly_and_audited():
    staff = UserFactory(is_staff=True)
    version = price_version_create(
        meter="data_out",
        unit_price="0.045",
        effective_from=TODAY,
        note=" Promotion ",
        created_by=staff,
    )
    assert version.unit_price == Decimal("0.045000")
    assert (version.meter, version.effective_from, version.note) == ("data_out", TODAY, "Promotion")
    assert version.created_by == staff
    event = AuditEvent.objects.get(action="price.create")
    assert event.team is None and event.target_id == str(version.pk)
    assert event.after == {
        "meter": "data_out",
        "unit_price": "0.045000",
        "effective_from": "2026-11-26",
        "note": "Promotion",
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"effective_from": TODAY - dt.timedelta(days=1)}, "effective_from", "Choose today"),
        ({"effective_from": dt.date(2022, 1, 1)}, "effective_from", "Choose today"),
        ({"unit_price": "-0.01"}, "unit_price", "cannot be negative"),
        ({"unit_price": Decimal("-1")}, "unit_price", "cannot be negative"),
        ({"unit_price": "abc"}, "unit_price", "as a number"),
        ({"unit_price": "NaN"}, "unit_price", "as a number"),
        ({"unit_price": "Infinity"}, "unit_price", "as a number"),
        ({"unit_price": ""}, "unit_price", "as a number"),
        ({"unit_price": "0.0000001"}, "unit_price", "at most 6 decimal places"),
        ({"unit_price": "100000000"}, "unit_price", "must be below"),
        ({"meter": "messages"}, "meter", "Choose one of"),
        ({"note": "x" * 201}, "note", "200 characters"),
        ({"effective_from": "2026-12-01"}, "effective_from", "YYYY-MM-DD"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(changes, field, message):
    before, events = snapshot(), AuditEvent.objects.count()
    values = {"meter": "data_in", "unit_price": "0.09", "effective_from": TODAY, **changes}
    with pytest.raises(ValidationError) as exc:
        price_version_create(**values)
    assert message in " ".join(errors_of(exc)[field])
    assert snapshot() == before and AuditEvent.objects.count() == events


def test_two_versions_of_a_meter_on_one_day_are_refused():
    price_version_create(meter="storage", unit_price="0.09", effective_from=TODAY)
    with pytest.raises(ValidationError) as exc:
        price_version_create(meter="storage", unit_price="0.08", effective_from=TODAY)
    assert "already has a version from 2026-11-26" in errors_of(exc)["effective_from"][0]
    assert PriceVersion.objects.filter(meter="storage", effective_from=TODAY).count() == 1


def test_a_version_in_effect_cannot_be_changed_or_withdrawn():
    seeded = PriceVersion.objects.get(meter="cluster_hours", effective_from=dt.date(2022, 1, 1))
    today = price_version_create(meter="data_in", unit_price="0.08", effective_from=TODAY)
    before = snapshot()
    for version in (seeded, today):
        with pytest.raises(ValidationError, match="cannot be changed"):
            price_version_update(
                version=version, unit_price="0.01", effective_from=TODAY + dt.timedelta(days=3)
            )
        with pytest.raises(ValidationError, match="cannot be withdrawn"):
            price_version_delete(version=version)
    assert snapshot() == before


def test_a_scheduled_version_can_be_changed_and_withdrawn_until_its_day():
    later = TODAY + dt.timedelta(days=5)
    version = price_version_create(meter="data_in", unit_price="0.08", effective_from=later)

    price_version_update(
        version=version, unit_price="0.07", effective_from=later + dt.timedelta(days=1)
    )
    version.refresh_from_db()
    assert (version.unit_price, version.effective_from) == (Decimal("0.07"), dt.date(2026, 12, 2))
    with pytest.raises(ValidationError, match="Choose today"):
        price_version_update(
            version=version, unit_price="0.07", effective_from=dt.date(2026, 11, 1)
        )

    with (
        time_machine.travel(at("2026-12-02 00:00"), tick=False),  # its day has come
        pytest.raises(ValidationError, match="cannot be withdrawn"),
    ):
        price_version_delete(version=version)
    price_version_delete(version=version)
    assert not PriceVersion.objects.filter(pk=version.pk).exists()
    assert [e.action for e in AuditEvent.objects.order_by("id")] == [
        "price.create",
        "price.update",
        "price.delete",
    ]


def test_the_book_says_which_version_is_in_effect_superseded_or_scheduled():
    price_version_create(meter="cluster_hours", unit_price="0.80", effective_from=TODAY)
    price_version_create(
        meter="cluster_hours", unit_price="0.85", effective_from=TODAY + dt.timedelta(days=10)
    )
    meters = {m.meter: m for m in price_book()}
    cluster_hours = meters["cluster_hours"]
    assert cluster_hours.current.unit_price == Decimal("0.80")
    assert [(p.version.unit_price, p.state) for p in cluster_hours.versions] == [
        (Decimal("0.85"), "scheduled"),
        (Decimal("0.80"), "current"),
        (Decimal("0"), "superseded"),  # the default: no hourly charge
    ]
    assert meters["storage"].current.unit_price == Decimal("0.10")
    assert meters["storage"].unit == "GiB-month"


# --- page ------------------------------------------------------------------------------------


def test_staff_see_the_price_book_and_add_a_version(staff_client):
    page = staff_client.get(reverse("billing:price_book"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cluster-hours" in html and "IN EFFECT" in html and "$0.0015" in html

    response = staff_client.post(
        reverse("billing:price_book"),
        {"meter": "data_out", "unit_price": "0.04", "effective_from": "2026-12-01", "note": "Q1"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("billing:price_book")
    assert "Data out costs 0.04 USD from 2026-12-01" in response.content.decode()
    assert "SCHEDULED" in response.content.decode()
    assert PriceVersion.objects.filter(meter="data_out", unit_price=Decimal("0.04")).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"unit_price": "0.04", "effective_from": "2026-11-25"}, "Choose today (2026-11-26"),
        ({"unit_price": "-0.04", "effective_from": "2026-12-01"}, "cannot be negative"),
        ({"unit_price": "0.04", "effective_from": "next week"}, "as YYYY-MM-DD"),
        ({"unit_price": "", "effective_from": "2026-12-01"}, "This field is required"),
    ],
)
def test_the_page_shows_what_is_wrong_and_adds_nothing(staff_client, data, message):
    before = snapshot()
    response = staff_client.post(reverse("billing:price_book"), {"meter": "data_out", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_withdrawing_from_the_page_only_works_for_scheduled_versions(staff_client):
    scheduled = price_version_create(
        meter="storage", unit_price="0.2", effective_from=TODAY + dt.timedelta(days=2)
    )
    seeded = PriceVersion.objects.get(meter="storage", effective_from=dt.date(2022, 1, 1))
    url = reverse("billing:price_version_withdraw")

    refused = staff_client.post(url, {"version": seeded.pk}, follow=True)
    assert "cannot be withdrawn" in refused.content.decode()
    assert PriceVersion.objects.filter(pk=seeded.pk).exists()

    done = staff_client.post(url, {"version": scheduled.pk}, follow=True)
    assert "Withdrew the Storage price scheduled for 2026-11-28" in done.content.decode()
    assert not PriceVersion.objects.filter(pk=scheduled.pk).exists()

    gone = staff_client.post(url, {"version": "not-a-number"}, follow=True)
    assert "does not exist" in gone.content.decode()


def test_team_roles_cannot_open_the_price_book():
    owner = browser(member("owner"))
    assert owner.get(reverse("billing:price_book")).status_code == 403
    response = owner.post(
        reverse("billing:price_book"),
        {"meter": "data_out", "unit_price": "0", "effective_from": "2026-12-01"},
    )
    assert response.status_code == 403
    assert not PriceVersion.objects.filter(meter="data_out", unit_price=0).exists()


# --- Django admin ------------------------------------------------------------------------------


def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_shows_versions_in_effect_read_only():
    client = superuser_client()
    seeded = PriceVersion.objects.get(meter="data_in", effective_from=dt.date(2022, 1, 1))
    url = reverse("admin:billing_priceversion_change", args=[seeded.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # a view, not a form
    response = client.post(
        url, {"meter": "data_in", "unit_price": "9", "effective_from": "2026-12-01", "note": ""}
    )
    assert response.status_code == 403
    delete = client.post(
        reverse("admin:billing_priceversion_delete", args=[seeded.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    seeded.refresh_from_db()
    assert seeded.unit_price == Decimal("0.10")


def test_the_admin_add_form_applies_the_same_rules_and_audits():
    client = superuser_client()
    url = reverse("admin:billing_priceversion_add")
    refused = client.post(
        url, {"meter": "data_in", "unit_price": "0.2", "effective_from": "2026-01-01", "note": ""}
    )
    assert refused.status_code == 200  # the form again, with the error
    assert "Choose today (2026-11-26" in refused.content.decode()
    assert not PriceVersion.objects.filter(unit_price=Decimal("0.2")).exists()

    added = client.post(
        url, {"meter": "data_in", "unit_price": "0.2", "effective_from": "2026-12-01", "note": ""}
    )
    assert added.status_code == 302
    assert PriceVersion.objects.filter(meter="data_in", unit_price=Decimal("0.2")).exists()
    assert AuditEvent.objects.filter(action="price.create").count() == 1


# --- one module: meters, units and defaults; lookups that never write ------------------------


def default_versions() -> dict:
    return dict(
        PriceVersion.objects.filter(effective_from=DEFAULT_PRICES_EFFECTIVE_FROM).values_list(
            "meter", "unit_price"
        )
    )


def test_every_meter_has_its_units_and_a_default_price_in_the_price_book():
    assert list(METERS) == list(METER_ORDER) == list(Meter.values)
    assert (USAGE_UNITS[Meter.STORAGE], BILLING_UNITS[Meter.STORAGE]) == ("GiB-hour", "GiB-month")
    assert all(USAGE_UNITS[m] == BILLING_UNITS[m] for m in METER_ORDER if m != Meter.STORAGE)


def test_the_migrations_seed_a_frozen_copy_of_the_default_prices():
    seed = importlib.import_module("billing.migrations.0002_seed_price_book")
    free = importlib.import_module("billing.migrations.0003_cluster_hours_free_by_default")
    connect = importlib.import_module("billing.migrations.0004_connector_hours")
    # 0002 seeded MSK's prices; 0003 made cluster-hours free where that seed was untouched;
    # 0004 added connector task-hours (issue 19).
    assert {
        **seed.PRICES,
        Meter.CLUSTER_HOURS: free.NEW,
        Meter.CONNECTOR_HOURS: connect.PRICE,
    } == DEFAULT_PRICES
    assert connect.EFFECTIVE_FROM == DEFAULT_PRICES_EFFECTIVE_FROM
    assert seed.EFFECTIVE_FROM == free.EFFECTIVE_FROM == DEFAULT_PRICES_EFFECTIVE_FROM
    assert seed.PRICES[Meter.CLUSTER_HOURS] == free.SEEDED
    assert default_versions() == DEFAULT_PRICES
    assert DEFAULT_PRICES[Meter.CLUSTER_HOURS] == Decimal("0")


def test_cluster_hours_become_free_only_where_the_seeded_price_is_untouched():
    from django.apps import apps

    free = importlib.import_module("billing.migrations.0003_cluster_hours_free_by_default")
    hours = PriceVersion.objects.filter(meter=Meter.CLUSTER_HOURS)

    # An installation still on the seed (0.75, 2022-01-01, added by no one): now 0.
    hours.update(unit_price=free.SEEDED, note=free.SEED_NOTE)
    free.free_cluster_hours(apps, None)
    assert list(hours.values_list("unit_price", flat=True)) == [Decimal("0")]
    free.back_to_the_seed(apps, None)  # and the reverse migration restores it
    assert list(hours.values_list("unit_price", flat=True)) == [free.SEEDED]

    # A platform that changed the seeded price keeps its price.
    hours.update(unit_price=Decimal("0.5"))
    free.free_cluster_hours(apps, None)
    assert list(hours.values_list("unit_price", flat=True)) == [Decimal("0.5")]

    # So does one that added a cluster-hour version of its own (a floor, say).
    hours.update(unit_price=free.SEEDED)
    later = utc_today() + dt.timedelta(days=2)
    floor = price_version_create(meter=Meter.CLUSTER_HOURS, unit_price="0.1", effective_from=later)
    free.free_cluster_hours(apps, None)
    assert sorted(hours.values_list("unit_price", flat=True)) == [Decimal("0.1"), free.SEEDED]
    assert PriceVersion.objects.get(pk=floor.pk).unit_price == Decimal("0.1")


def test_a_lookup_on_an_empty_price_book_is_a_clear_error_and_writes_nothing():
    PriceVersion.objects.all().delete()
    book = PriceBook.load()
    with pytest.raises(PriceBookEmptyError, match="The price book has no prices") as exc:
        book.at(Meter.DATA_IN, NOW)
    assert isinstance(exc.value, BillingError)
    with pytest.raises(PriceBookEmptyError):
        book.segments(Meter.STORAGE, NOW - dt.timedelta(days=1), NOW)
    # Staff still see the (empty) book, to add prices.
    assert [(m.meter, m.current, m.versions) for m in price_book()] == [
        (meter, None, []) for meter in METER_ORDER
    ]
    assert not PriceVersion.objects.exists()


def test_an_empty_price_book_is_explained_on_the_usage_page_and_in_the_api(staff_client):
    billing = member()
    PriceVersion.objects.all().delete()
    page = browser(billing).get("/billing/")
    assert page.status_code == 503  # the platform's data is missing, not the request wrong
    assert "The price book has no prices" in page.content.decode()
    api = api_for(billing).get("/api/v1/usage/")
    assert api.status_code == 503
    assert api.json()["code"] == "price_book_empty"
    assert "The price book has no prices" in api.json()["month"][0]
    assert staff_client.get(reverse("billing:price_book")).status_code == 200
    assert not PriceVersion.objects.exists()


def test_seed_price_book_restores_the_missing_default_prices_and_nothing_else():
    PriceVersion.objects.filter(meter__in=["storage", "data_out"]).delete()
    later = price_version_create(meter="data_in", unit_price="0.2", effective_from=TODAY)
    out = StringIO()
    call_command("seed_price_book", stdout=out)
    assert "Added 2 default price(s)" in out.getvalue()
    assert default_versions() == DEFAULT_PRICES
    call_command("seed_price_book", stdout=out)
    assert "nothing added" in out.getvalue()
    assert PriceVersion.objects.count() == len(DEFAULT_PRICES) + 1
    assert PriceVersion.objects.get(pk=later.pk).unit_price == Decimal("0.2")
