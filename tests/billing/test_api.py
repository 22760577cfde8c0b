"""Billing API: usage JSON, invoices with PDF and CSV, the staff finance export."""

import csv
import io
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader
from rest_framework.test import APIClient

from billing.models import Invoice
from billing.services.usage import month_usage
from console.models import Role
from tests.billing.factories import draft_with_lines
from tests.billing.helpers import NOV, api_for, closed_november, member, november_usage
from tests.billing.sources import at
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LATE_NOVEMBER = at("2026-11-30 22:30")
LINE_KEYS = {
    "cluster_id",
    "cluster_name",
    "meter",
    "label",
    "description",
    "usage_period",
    "is_adjustment",
    "quantity",
    "unit",
    "unit_price",
    "amount",
}


@pytest.fixture
def billing_member():
    return member(Role.BILLING)


def test_usage_is_the_month_usage_as_json_with_money_as_strings(billing_member):
    team = billing_member.team
    november_usage(team, "orders")
    november_usage(team, "ledger")
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        expected = month_usage(team, NOV)
        body = api_for(billing_member).get("/api/v1/usage/", {"month": "2026-11"}).json()

    assert set(body) == {"month", "as_of", "currency", "total", "forecast", "clusters", "daily"}
    assert body["month"] == "2026-11" and body["currency"] == "USD"
    assert body["as_of"] == "2026-11-30T22:30:00Z"
    assert body["total"] == f"{expected.total:.2f}" and isinstance(body["total"], str)
    assert body["forecast"] == f"{expected.forecast:.2f}"
    assert [c["cluster_name"] for c in body["clusters"]] == ["ledger", "orders"]
    for cluster, want in zip(body["clusters"], expected.clusters, strict=True):
        assert cluster["total"] == f"{want.total:.2f}"
        assert len(cluster["lines"]) == len(want.lines) == 5
        for line in cluster["lines"]:
            assert set(line) == LINE_KEYS
            assert all(isinstance(line[k], str) for k in ("quantity", "unit_price", "amount"))
            assert len(line["quantity"].split(".")[1]) == 6
        assert sum(Decimal(line["amount"]) for line in cluster["lines"]) == want.total
    assert len(body["daily"]) == 30
    assert body["daily"][0] == {"date": "2026-11-01", "amount": "0.00"}
    assert body["daily"][-1]["amount"] == f"{expected.daily[-1][1]:.2f}"


def test_usage_defaults_to_this_month(billing_member):
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        body = api_for(billing_member).get("/api/v1/usage/").json()
    assert body["month"] == "2026-11" and body["total"] == "0.00" and body["clusters"] == []


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("11-2026", "Month must look like YYYY-MM (e.g. 2026-11), not '11-2026'."),
        ("2026-00", "Month must look like YYYY-MM"),
        ("2026-12", "2026-12 has not started yet: choose 2026-11 or an earlier month."),
        ("2001-01", "The price book has no price for Cluster-hours on 2001-01-01."),
    ],
)
def test_a_bad_usage_month_is_a_400_that_says_what_to_send(billing_member, month, message):
    with time_machine.travel(LATE_NOVEMBER, tick=False):
        response = api_for(billing_member).get("/api/v1/usage/", {"month": month})
    assert response.status_code == 400
    assert message in response.json()["month"]


def test_invoices_list_and_detail(billing_member):
    (final,) = closed_november(billing_member.team)
    draft = draft_with_lines(billing_member.team, {}, period=NOV.replace(month=12))
    api = api_for(billing_member)

    listed = api.get("/api/v1/invoices/").json()
    assert listed["count"] == 2
    newest, older = listed["results"]
    assert (newest["id"], newest["number"], newest["status"]) == (draft.pk, None, "draft")
    assert (older["id"], older["number"], older["status"]) == (final.pk, final.number, "finalized")
    assert older["period"] == "2026-11" and older["subtotal"] == f"{final.subtotal:.2f}"
    assert older["team"] == billing_member.team.slug and older["currency"] == "USD"
    assert older["links"] == {
        "detail": f"http://testserver/api/v1/invoices/{final.pk}/",
        "pdf": f"http://testserver/api/v1/invoices/{final.pk}/pdf",
        "csv": f"http://testserver/api/v1/invoices/{final.pk}/csv",
    }
    assert "lines" not in older

    detail = api.get(f"/api/v1/invoices/{final.pk}/").json()
    assert detail["number"] == final.number
    assert [line["position"] for line in detail["lines"]] == [1, 2, 3, 4, 5]
    assert sum(Decimal(line["amount"]) for line in detail["lines"]) == final.subtotal
    first = final.lines.get(position=1)
    assert detail["lines"][0] == {
        "position": 1,
        "cluster_id": first.cluster_id,
        "cluster_name": "orders",
        "meter": "cluster_hours",
        "description": first.description,
        "usage_period": "2026-11",
        "is_adjustment": False,
        "quantity": f"{first.quantity:f}",
        "unit": "hour",
        "unit_price": f"{first.unit_price:f}",
        "amount": f"{first.amount:f}",
    }


def test_invoices_filter_by_month_and_status(billing_member):
    closed_november(billing_member.team)
    draft_with_lines(billing_member.team, {}, period=NOV.replace(month=12))
    api = api_for(billing_member)
    assert api.get("/api/v1/invoices/", {"month": "2026-12"}).json()["count"] == 1
    assert api.get("/api/v1/invoices/", {"status": "finalized"}).json()["count"] == 1
    assert api.get("/api/v1/invoices/", {"status": "paid"}).json()["count"] == 0
    bad_status = api.get("/api/v1/invoices/", {"status": "overdue"})
    assert bad_status.status_code == 400
    assert bad_status.json() == {"status": "Choose one of: draft, finalized, paid, void."}
    bad_month = api.get("/api/v1/invoices/", {"month": "december"})
    assert bad_month.status_code == 400 and "YYYY-MM" in bad_month.json()["month"]


def test_pdf_and_csv_of_an_invoice(billing_member):
    (invoice,) = closed_november(billing_member.team)
    api = api_for(billing_member)

    pdf = api.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert invoice.number in text and f"Total (USD) {invoice.subtotal:,.2f}" in text
    # A client that asks for the file's type gets it (not 406).
    asked = api.get(f"/api/v1/invoices/{invoice.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert asked.status_code == 200 and asked.content == pdf.content

    data = api.get(f"/api/v1/invoices/{invoice.pk}/csv", HTTP_ACCEPT="text/csv")
    assert data.status_code == 200 and data["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(data.content.decode())))
    assert [r["line"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert {r["invoice_number"] for r in rows} == {invoice.number}


def test_another_teams_invoice_is_404_everywhere(billing_member):
    foreign = draft_with_lines(member(Role.OWNER).team, {})
    api = api_for(billing_member)
    for suffix in ("/", "/pdf", "/csv"):
        assert api.get(f"/api/v1/invoices/{foreign.pk}{suffix}").status_code == 404
    assert api.get("/api/v1/invoices/").json()["count"] == 0


def test_a_finalized_invoice_cannot_be_changed_through_the_api():
    owner = member(Role.OWNER)
    (invoice,) = closed_november(owner.team)
    before = (invoice.status, invoice.number, invoice.subtotal, invoice.lines.count())
    api = api_for(owner)
    url = f"/api/v1/invoices/{invoice.pk}/"
    for method in ("put", "patch", "delete"):
        response = getattr(api, method)(url, {"status": "draft", "subtotal": "0"}, format="json")
        assert response.status_code == 405, method
    assert api.post("/api/v1/invoices/", {"team": 1}, format="json").status_code == 405
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.subtotal, invoice.lines.count()) == before


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_roles_without_billing_get_403(role):
    membership = member(role)
    invoice = draft_with_lines(membership.team, {})
    api = api_for(membership)
    for url in ("/api/v1/usage/", "/api/v1/invoices/", f"/api/v1/invoices/{invoice.pk}/pdf"):
        assert api.get(url).status_code == 403, url


# --- finance export --------------------------------------------------------------------------


def test_staff_export_a_month_with_their_own_token():
    staff_member = member(
        Role.VIEWER, is_staff=True
    )  # a viewer in some team, staff on the platform
    team_a, team_b = member(Role.OWNER).team, member(Role.OWNER).team
    invoices = closed_november(team_a, team_b)

    response = api_for(staff_member).get("/api/v1/exports/invoices.csv", {"month": "2026-11"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["invoice_number"] for r in rows} == {i.number for i in invoices}
    assert {r["team"] for r in rows} == {team_a.slug, team_b.slug}


def test_staff_export_with_their_session_and_a_bad_month_is_400():
    client = APIClient()
    client.force_login(UserFactory(is_staff=True))  # in no team at all
    assert client.get("/api/v1/exports/invoices.csv", {"month": "2026-11"}).status_code == 200
    missing = client.get("/api/v1/exports/invoices.csv")
    assert missing.status_code == 400
    assert missing.json() == {"month": "Choose a month (YYYY-MM, e.g. 2026-11)."}
    bad = client.get("/api/v1/exports/invoices.csv", {"month": "2026-1"})
    assert bad.status_code == 400 and "YYYY-MM" in bad.json()["month"]


def test_team_owners_cannot_export_other_teams_invoices():
    owner = member(Role.OWNER)
    closed_november(owner.team, member(Role.OWNER).team)
    response = api_for(owner).get("/api/v1/exports/invoices.csv", {"month": "2026-11"})
    assert response.status_code == 403
    assert response.json() == {"detail": "This endpoint is for platform staff."}
    anonymous = APIClient().get("/api/v1/exports/invoices.csv", {"month": "2026-11"})
    assert anonymous.status_code == 401
    assert Invoice.objects.filter(period=NOV).count() == 2
