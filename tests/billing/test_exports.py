"""Invoice files: the per-invoice CSV, the finance CSV of a month and the PDF."""

import csv
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.models import Invoice
from billing.services.exports import (
    INVOICE_CSV_COLUMNS,
    finance_export_csv,
    invoice_csv,
    invoice_pdf,
)
from billing.services.invoices import mark_paid, void_invoice
from tests.billing.factories import InvoiceLineFactory, draft_with_lines
from tests.billing.helpers import NOV, closed_november
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

# Written out here on purpose: changing the published columns must fail this test.
DOCUMENTED_COLUMNS = [
    "invoice_number",
    "invoice_id",
    "team",
    "team_name",
    "period",
    "status",
    "currency",
    "line",
    "cluster",
    "meter",
    "description",
    "usage_period",
    "is_adjustment",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "subtotal",
]


def parse(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == DOCUMENTED_COLUMNS
    return list(reader)


def words(text: str) -> str:
    """Extracted text with every run of whitespace as one space (table cells come out as lines)."""
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return words(" ".join(page.extract_text() for page in reader.pages))


def test_the_columns_are_the_documented_ones():
    assert list(INVOICE_CSV_COLUMNS) == DOCUMENTED_COLUMNS


def test_invoice_csv_has_one_row_per_line_with_the_exact_stored_values():
    (invoice,) = closed_november(TeamFactory(slug="acme", name="Acme Corp"))
    lines = list(invoice.lines.order_by("position"))
    assert len(lines) == 5  # five meters of one cluster

    rows = parse(invoice_csv(invoice))

    assert len(rows) == len(lines)
    for row, line in zip(rows, lines, strict=True):
        assert row["invoice_number"] == invoice.number
        assert row["invoice_id"] == str(invoice.pk)
        assert (row["team"], row["team_name"]) == ("acme", "Acme Corp")
        assert (row["period"], row["status"], row["currency"]) == ("2026-11", "finalized", "USD")
        assert row["line"] == str(line.position)
        assert row["cluster"] == "orders"
        assert row["meter"] == line.meter
        assert row["description"] == line.description
        assert (row["usage_period"], row["is_adjustment"]) == ("2026-11", "false")
        assert Decimal(row["quantity"]) == line.quantity
        assert row["quantity"] == f"{line.quantity:f}"  # 6 places, no exponent, no separators
        assert Decimal(row["unit_price"]) == line.unit_price
        assert row["amount"] == f"{line.amount:f}"
        assert row["subtotal"] == f"{invoice.subtotal:f}"
    assert sum(Decimal(r["amount"]) for r in rows) == invoice.subtotal


def test_a_draft_csv_has_no_number_and_marks_adjustments():
    invoice = draft_with_lines(
        TeamFactory(),
        {"quantity": Decimal("10.5")},
        {
            "meter": "data_in",
            "unit": "GiB",
            "unit_price": Decimal("0.10"),
            "quantity": Decimal("0.333333"),
            "is_adjustment": True,
            "usage_period": NOV.replace(month=10),
            "description": "Adjustment: late usage for October 2026 · orders · Data in",
        },
    )
    rows = parse(invoice_csv(invoice))
    assert [r["invoice_number"] for r in rows] == ["", ""]
    assert [r["status"] for r in rows] == ["draft", "draft"]
    assert [r["is_adjustment"] for r in rows] == ["false", "true"]
    assert rows[1]["usage_period"] == "2026-10"
    assert rows[1]["amount"] == "0.03"


def test_text_a_user_typed_cannot_become_a_spreadsheet_formula():
    team = TeamFactory(name='=HYPERLINK("http://evil.example","x")')
    invoice = draft_with_lines(team, {"description": "+cmd|' /C calc'!A0"})
    (row,) = parse(invoice_csv(invoice))
    assert row["team_name"].startswith("'=")
    assert row["description"].startswith("'+")
    # Numbers are never touched, even negative ones.
    assert row["amount"] == "540.00"


def test_the_finance_export_holds_every_numbered_invoice_of_the_month_and_no_draft():
    a, b, c = TeamFactory(slug="a-team"), TeamFactory(slug="b-team"), TeamFactory(slug="c-team")
    inv_a, inv_b, inv_c = closed_november(a, b, c)
    mark_paid(inv_b)
    replacement = void_invoice(inv_c, reason="Wrong cluster name")
    assert replacement is not None and replacement.is_draft
    draft_with_lines(TeamFactory(slug="d-team"), {})  # another team's draft in November
    draft_with_lines(a, {}, period=NOV.replace(month=10))  # another month

    rows = parse(finance_export_csv(NOV))

    numbers = [r["invoice_number"] for r in rows]
    assert "" not in numbers  # no drafts: the replacement and d-team's draft are left out
    assert sorted(set(numbers)) == sorted({inv_a.number, inv_b.number, inv_c.number})
    assert numbers == sorted(numbers)  # ordered by number, lines in position order
    status = {r["invoice_number"]: r["status"] for r in rows}
    assert status == {inv_a.number: "finalized", inv_b.number: "paid", inv_c.number: "void"}
    assert {r["period"] for r in rows} == {"2026-11"}
    per_invoice = {}
    for r in rows:
        per_invoice.setdefault(r["invoice_number"], []).append(int(r["line"]))
    assert all(lines == sorted(lines) for lines in per_invoice.values())
    assert len(rows) == sum(inv.lines.count() for inv in (inv_a, inv_b, inv_c))


def test_the_finance_export_of_a_month_without_invoices_is_just_the_header():
    assert parse(finance_export_csv(NOV)) == []


def test_the_pdf_opens_and_shows_team_period_number_lines_and_total():
    (invoice,) = closed_november(TeamFactory(slug="acme", name="Acme Corp"))

    data = invoice_pdf(invoice)

    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert invoice.number in text
    assert "Acme Corp (acme)" in text
    assert "2026-11 (2026-11-01 to 2026-11-30 UTC)" in text
    assert "Finalized" in text
    assert f"Total (USD) {invoice.subtotal:,.2f}" in text
    assert f"Subtotal {invoice.subtotal:,.2f}" in text
    for line in invoice.lines.all():
        assert line.description in text
        assert f"{line.amount:,.2f}" in text
    assert "DRAFT" not in text


def test_the_pdf_prints_names_beyond_latin_1():
    """DejaVu Sans is embedded (Latin, Greek, Cyrillic…; not CJK). The test setup installs it."""
    from billing.services.exports import pdf_fonts

    assert pdf_fonts()[0] != "Helvetica", "fonts-dejavu-core is missing"
    (invoice,) = closed_november(TeamFactory(slug="moskva", name="Équipe Ωmega Москва"))
    text = pdf_text(invoice_pdf(invoice))
    assert "Équipe Ωmega Москва (moskva)" in text
    assert invoice_pdf(invoice) == invoice_pdf(invoice)  # still the same bytes every time


def test_a_draft_pdf_says_draft_and_has_no_number():
    invoice = draft_with_lines(TeamFactory(name="Draft Team"), {})
    text = pdf_text(invoice_pdf(invoice))
    assert "DRAFT" in text
    assert "Not yet assigned (draft)" in text
    assert "This is not a bill" in text
    assert "Total (USD) 540.00" in text


def test_a_void_pdf_says_void_and_why():
    (invoice,) = closed_november(TeamFactory())
    void_invoice(invoice, reason="Duplicate charge")
    invoice.refresh_from_db()
    text = pdf_text(invoice_pdf(invoice))
    assert "VOID" in text and "Duplicate charge" in text and "Do not pay" in text
    assert invoice.number in text


def test_a_long_invoice_continues_on_more_pages_and_is_the_same_every_time():
    invoice = draft_with_lines(TeamFactory(), {})
    for position in range(2, 121):
        InvoiceLineFactory(invoice=invoice, position=position, cluster_name=f"c{position}")
    invoice.subtotal = sum(line.amount for line in invoice.lines.all())
    invoice.save(update_fields=["subtotal"])

    data = invoice_pdf(invoice)

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 3
    assert "Quantity" in reader.pages[1].extract_text()  # the header row repeats
    assert f"Total (USD) {invoice.subtotal:,.2f}" in words(reader.pages[-1].extract_text())
    assert invoice_pdf(Invoice.objects.get(pk=invoice.pk)) == data  # deterministic bytes


def test_the_finance_export_reads_a_fixed_number_of_queries_however_many_invoices():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    closed_november(*[TeamFactory() for _ in range(4)])
    with CaptureQueriesContext(connection) as four:
        rows = parse(finance_export_csv(NOV))
    assert len({r["invoice_number"] for r in rows}) == 4
    assert len(four.captured_queries) <= 3  # invoices with teams, their lines (one chunk)
