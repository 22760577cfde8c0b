"""Billing pages: usage (month to date, forecast, cluster and meter, daily chart, topics),
invoices (list, detail, PDF, CSV) and the staff finance export."""

import csv
import io
import json
import re
from decimal import Decimal
from html import unescape

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from billing.models import Invoice
from billing.services.invoices import recompute_draft
from billing.services.usage import month_usage
from console.models import Role
from tests.billing.factories import draft_with_lines
from tests.billing.helpers import NOV, browser, closed_november, member, november_usage
from tests.billing.sources import at
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LATE_NOVEMBER = at("2026-11-30 22:30")


def text_of(response) -> str:
    """The page's visible text, whitespace collapsed (what a person reads)."""
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def billing_member():
    return member(Role.BILLING)


# --- usage ------------------------------------------------------------------------------------


def test_the_usage_page_shows_month_to_date_forecast_and_cost_per_cluster_and_meter(
    billing_member,
):
    team = billing_member.team
    november_usage(team, "orders", topics=("events", "audit"))
    november_usage(team, "ledger")
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        expected = month_usage(team, NOV)
        response = browser(billing_member).get(reverse("billing:usage"))

    assert response.status_code == 200
    page = text_of(response)
    assert expected.total > 0
    assert f"Month to date ${expected.total:,.2f}" in page
    assert f"Forecast to month end ${expected.forecast:,.2f}" in page
    for label in ("Cluster-hours", "Partition-hours", "Storage", "Data in", "Data out"):
        assert label in page
    for cluster in expected.clusters:
        assert f"{cluster.cluster_name} " in page
        assert f"${cluster.total:,.2f}" in page
    assert "All clusters" in page
    # The daily chart's data: one point per day so far, the same figures as the table.
    seed = json.loads(
        re.search(
            r'<script id="usage-daily-seed" type="application/json">(.*?)</script>',
            response.content.decode(),
            re.S,
        ).group(1)
    )
    assert len(seed["t"]) == len(seed["cost"]) == 30
    assert seed["cost"][-1] == float(expected.daily[-1][1])
    assert 'data-skiff-chart="usage-daily"' in response.content.decode()


def test_a_past_month_is_chosen_from_the_picker_and_bad_months_are_explained(billing_member):
    client = browser(billing_member)
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        options = client.get(reverse("billing:usage")).content.decode()
        assert '<option value="2026-11" selected>' in options
        past = client.get(reverse("billing:usage"), {"month": "2026-10"})
        bad = client.get(reverse("billing:usage"), {"month": "2026-13"})
        future = client.get(reverse("billing:usage"), {"month": "2026-12"})
    assert past.status_code == 200 and "Month total" in text_of(past)
    assert bad.status_code == 400
    assert "Month must look like YYYY-MM (e.g. 2026-11), not '2026-13'." in text_of(bad)
    assert future.status_code == 400
    assert "2026-12 has not started yet: choose 2026-11 or an earlier month." in text_of(future)


def test_an_empty_month_says_what_is_billed(billing_member):
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        page = text_of(browser(billing_member).get(reverse("billing:usage")))
    assert "No usage in November 2026" in page
    assert "Month to date $0.00" in page


def test_the_topic_drill_down_is_a_fragment_for_htmx_and_a_page_otherwise(billing_member):
    cluster = november_usage(billing_member.team, "orders", topics=("events", "audit"))
    client = browser(billing_member)
    url = reverse("billing:usage_topics", args=[cluster.pk]) + "?month=2026-11"
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        fragment = client.get(url, headers={"HX-Request": "true"})
        page = client.get(url)

    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    text = text_of(fragment)
    assert "Topics of orders · November 2026" in text
    # "audit" carried twice the bytes of "events" (see november_usage): it is listed first.
    assert text.index("audit") < text.index("events")
    assert "8.00 16.00" in text  # audit: 8 GiB in, 16 GiB out
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert "Usage by topic" in text_of(page)


def test_another_teams_cluster_has_no_topic_drill_down(billing_member):
    foreign = november_usage(member(Role.OWNER).team, "theirs")
    response = browser(billing_member).get(reverse("billing:usage_topics", args=[foreign.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_roles_without_billing_cannot_see_usage_or_invoices(role):
    membership = member(role)
    invoice = draft_with_lines(membership.team, {})
    client = browser(membership)
    for url in (
        reverse("billing:usage"),
        reverse("billing:invoices"),
        reverse("billing:invoice_detail", args=[invoice.pk]),
        reverse("billing:invoice_pdf", args=[invoice.pk]),
        reverse("billing:invoice_csv", args=[invoice.pk]),
    ):
        assert client.get(url).status_code == 403, url


# --- invoices ---------------------------------------------------------------------------------


def test_the_invoice_list_shows_numbers_statuses_totals_and_downloads(billing_member):
    (final,) = closed_november(billing_member.team)
    draft = draft_with_lines(billing_member.team, {}, period=NOV.replace(month=12))
    response = browser(billing_member).get(reverse("billing:invoices"))
    assert response.status_code == 200
    page = text_of(response)
    assert final.number in page and "FINALIZED" in page
    assert "Draft 2026-12" in page and "DRAFT" in page
    # The current month's draft is recomputed on view: its made-up $540.00 line is gone.
    draft.refresh_from_db()
    assert draft.subtotal == month_usage(billing_member.team, draft.period).total
    assert f"${final.subtotal:,.2f}" in page and f"${draft.subtotal:,.2f}" in page
    assert "$540.00" not in page
    html = response.content.decode()
    for invoice in (final, draft):
        assert reverse("billing:invoice_pdf", args=[invoice.pk]) in html
        assert reverse("billing:invoice_csv", args=[invoice.pk]) in html

    only_drafts = browser(billing_member).get(reverse("billing:invoices"), {"status": "draft"})
    assert final.number not in text_of(only_drafts)


def test_the_invoice_detail_shows_lines_status_number_and_total(billing_member):
    (invoice,) = closed_november(billing_member.team)
    response = browser(billing_member).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    assert response.status_code == 200
    page = text_of(response)
    assert invoice.number in page and "FINALIZED" in page
    assert "November 2026 (2026-11-01 to 2026-11-30, UTC)" in page
    for line in invoice.lines.all():
        assert line.description in page
    assert f"Total (USD) ${invoice.subtotal:,.2f}" in page
    assert "Download PDF" in page and "Download CSV" in page


def test_a_draft_detail_warns_that_it_is_an_estimate(billing_member):
    invoice = draft_with_lines(billing_member.team, {})
    # Computed a moment ago: shown as it is (older drafts are recomputed on view first).
    Invoice.objects.filter(pk=invoice.pk).update(computed_at=timezone.now())
    page = text_of(
        browser(billing_member).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    )
    assert "This is a draft" in page and "Do not pay a draft" in page


def test_pdf_and_csv_downloads(billing_member):
    (invoice,) = closed_november(billing_member.team)
    client = browser(billing_member)

    pdf = client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert f'filename="skiff-invoice-{invoice.number}.pdf"' in pdf["Content-Disposition"]
    text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert invoice.number in text and f"Total (USD) {invoice.subtotal:,.2f}" in text

    data = client.get(reverse("billing:invoice_csv", args=[invoice.pk]))
    assert data.status_code == 200 and data["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(data.content.decode())))
    assert len(rows) == invoice.lines.count()
    assert sum(Decimal(r["amount"]) for r in rows) == invoice.subtotal


def test_another_teams_invoice_is_not_found(billing_member):
    foreign = draft_with_lines(member(Role.OWNER).team, {})
    client = browser(billing_member)
    for name in ("billing:invoice_detail", "billing:invoice_pdf", "billing:invoice_csv"):
        assert client.get(reverse(name, args=[foreign.pk])).status_code == 404


# --- finance export (platform staff) ------------------------------------------------------------


@pytest.fixture
def staff():
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def test_staff_download_the_finance_csv_of_a_month(staff):
    team_a, team_b = member(Role.OWNER).team, member(Role.OWNER).team
    invoices = closed_november(team_a, team_b)
    page = staff.get(reverse("billing:finance_export"))
    assert page.status_code == 200
    assert "November 2026" in text_of(page)

    response = staff.get(reverse("billing:finance_export_csv"), {"month": "2026-11"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="skiff-invoices-2026-11.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["invoice_number"] for r in rows} == {i.number for i in invoices}


@pytest.mark.parametrize(
    ("month", "message"),
    [("", "Choose a month (YYYY-MM, e.g. 2026-11)."), ("Nov", "Month must look like YYYY-MM")],
)
def test_a_bad_export_month_is_explained_on_the_page(staff, month, message):
    response = staff.get(reverse("billing:finance_export_csv"), {"month": month})
    assert response.status_code == 400
    assert message in text_of(response)


def test_team_roles_cannot_export_finance_data(billing_member):
    client = browser(billing_member)
    assert client.get(reverse("billing:finance_export")).status_code == 403
    csv_url = reverse("billing:finance_export_csv") + "?month=2026-11"
    assert client.get(csv_url).status_code == 403
    assert Invoice.objects.count() == 0


def test_a_draft_is_recomputed_on_demand_and_a_final_invoice_is_not(billing_member):
    team = billing_member.team
    november_usage(team)
    stale = draft_with_lines(team, {"quantity": Decimal("1")})  # made-up line, $0.75
    client = browser(billing_member)
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        expected = month_usage(team, NOV)
        response = client.post(reverse("billing:invoice_refresh", args=[stale.pk]), follow=True)
    draft = Invoice.objects.get(team=team, period=NOV)
    assert response.redirect_chain[-1][0] == reverse("billing:invoice_detail", args=[draft.pk])
    assert "Draft recomputed with usage through 2026-11-30 22:30 UTC." in text_of(response)
    assert draft.subtotal == expected.total and draft.lines.count() == 5

    with time_machine.travel(at("2026-12-01 02:00"), tick=False):
        (final,) = closed_november(team)
        before = (final.subtotal, list(final.lines.values_list("amount", flat=True)))
        refused = client.post(reverse("billing:invoice_refresh", args=[final.pk]), follow=True)
    assert f"Invoice {final.number} is finalized: it never changes." in text_of(refused)
    final.refresh_from_db()
    assert (final.subtotal, list(final.lines.values_list("amount", flat=True))) == before


def test_only_billing_managers_recompute_drafts():
    developer = member(Role.DEVELOPER)
    draft = draft_with_lines(developer.team, {})
    response = browser(developer).post(reverse("billing:invoice_refresh", args=[draft.pk]))
    assert response.status_code == 403
    assert Invoice.objects.get(pk=draft.pk).subtotal == Decimal("540.00")


def test_the_invoice_list_does_not_query_per_invoice(billing_member, django_assert_max_num_queries):
    for month in range(1, 11):
        draft_with_lines(billing_member.team, {}, period=NOV.replace(month=month))
    client = browser(billing_member)
    client.get(reverse("billing:invoices"))  # warm: session, sites, templates
    # 12, plus a constant 5 or so for recomputing the current month's draft on view.
    with django_assert_max_num_queries(18):
        response = client.get(reverse("billing:invoices"))
    assert text_of(response).count("DRAFT") == 10


@pytest.mark.parametrize(
    ("role", "shown"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.BILLING, True), (Role.DEVELOPER, False)],
)
def test_the_navigation_offers_billing_only_to_roles_that_may_open_it(role, shown):
    page = browser(member(role)).get(reverse("clusters:list")).content.decode()
    assert (f'href="{reverse("billing:usage")}"' in page) is shown
    assert 'href="/billing/finance/"' not in page  # staff pages: not for team roles


def test_staff_get_the_finance_and_price_book_links(staff):
    page = staff.get(reverse("billing:price_book")).content.decode()
    assert 'href="/billing/finance/"' in page and 'href="/billing/prices/"' in page
    assert f'href="{reverse("billing:usage")}"' not in page  # in no team: no billing of theirs


def test_a_draft_is_fresh_when_viewed_and_says_what_usage_says(billing_member):
    """Issue 16: a draft showed $0.00 while Usage showed $0.17, until "Recompute now"."""
    team = billing_member.team
    november_usage(team)
    client = browser(billing_member)
    with time_machine.travel(at("2026-11-30 20:30"), tick=False):
        earlier = recompute_draft(team, NOV)  # half an hour after the cluster started
    assert earlier is not None
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        usage = month_usage(team, NOV)
        listed = text_of(client.get(reverse("billing:invoices")))
        shown = client.get(reverse("billing:invoice_detail", args=[earlier.pk]))
    draft = Invoice.objects.get(pk=earlier.pk)
    assert usage.total > earlier.subtotal  # the draft of 20:30 was behind
    assert draft.subtotal == usage.total
    assert f"${usage.total:,.2f}" in listed
    assert f"${usage.total:,.2f}" in text_of(shown)
    assert "usage through 2026-11-30 22:30 UTC" in text_of(shown)
    # Within a minute of that, a view does not compute it again.
    computed = draft.computed_at
    with time_machine.travel(at("2026-11-30 22:30:30"), tick=False):
        client.get(reverse("billing:invoice_detail", args=[draft.pk]))
    assert Invoice.objects.get(pk=draft.pk).computed_at == computed
