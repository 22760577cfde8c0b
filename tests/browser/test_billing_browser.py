"""Billing in Chromium: the usage page draws its daily chart under the CSP, the topic
drill-down swaps in with htmx, and an invoice's PDF downloads."""

import datetime as dt
import io
import os

from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.periods import month_of
from billing.services.invoices import recompute_draft
from console.models import Team
from tests.billing.sources import GIB, billed_cluster, minute_row, partitions

EMAIL = "fin@example.com"
PASSWORD = "s3cure-Passw0rd!"
SCREENSHOTS = os.environ.get("SKIFF_BILLING_SCREENSHOTS")  # a directory, to look at the pages


def minute_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def test_usage_chart_topic_drill_down_and_invoice_pdf(page, live_app, tmp_path):
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "fin")
    team = Team.objects.get(slug="fin")
    now = timezone.now().replace(second=0, microsecond=0)
    start = max(
        dt.datetime.combine(month_of(now), dt.time(), tzinfo=dt.UTC), now - dt.timedelta(days=2)
    )
    cluster = billed_cluster(minute_text(start), team=team, name="orders")
    partitions(cluster, "payments", minute_text(start), 12)
    sample = start + dt.timedelta(minutes=5)
    minute_row(cluster, "payments", minute_text(sample), bytes_in=3 * GIB, storage=GIB)
    invoice = recompute_draft(team, month_of(now))
    assert invoice is not None and invoice.subtotal > 0
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()

    page.get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    expect(page.get_by_text("Month to date", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="Cost per day")
    expect(chart.locator("canvas")).to_be_visible()  # uPlot drew it: the script ran
    table = page.get_by_role("table", name="Cost per cluster and meter")
    expect(table.get_by_role("rowheader", name="orders")).to_be_visible()

    page.get_by_role("link", name="Topics of orders").click()
    topics = page.get_by_role("table", name="Usage per topic of orders")
    expect(topics.get_by_role("rowheader", name="payments")).to_be_visible()
    assert page.url.endswith("/billing/")  # swapped in place by htmx, no navigation
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/usage.png", full_page=True)

    page.get_by_role("tab", name="Invoices").or_(page.get_by_role("link", name="Invoices")).click()
    expect(page.get_by_role("table", name="Invoices")).to_be_visible()
    page.get_by_role("link", name=f"Draft {month_of(now):%Y-%m}").click()
    expect(page.get_by_text("This is a draft")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/invoice.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = tmp_path / "invoice.pdf"
    download.value.save_as(pdf)
    text = " ".join(PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text().split())
    assert "DRAFT" in text and f"Total (USD) {invoice.subtotal:,.2f}" in text

    assert problems == []  # no CSP violation, no script error


def test_staff_add_and_withdraw_a_price_and_download_the_finance_csv(page, live_app):
    from console.models import User

    User.objects.create_user(email="ops@example.com", password=PASSWORD, is_staff=True)
    page.goto("/login/")
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Price book").click()
    expect(page.get_by_role("heading", name="Price book")).to_be_visible()
    current = page.get_by_role("table", name="Data out price versions")
    expect(current.get_by_text("IN EFFECT")).to_be_visible()
    page.get_by_label("Meter").select_option(label="Data out")
    page.get_by_label("Unit price (USD)").fill("-1")
    page.get_by_role("button", name="Add version").click()
    expect(page.get_by_role("alert").filter(has_text="cannot be negative")).to_be_visible()

    later = (timezone.now() + dt.timedelta(days=40)).date()
    page.get_by_label("Unit price (USD)").fill("0.045")
    page.get_by_label("Effective from (UTC)").fill(later.isoformat())
    page.get_by_role("button", name="Add version").click()
    expect(page.get_by_text(f"Data out costs 0.045 USD from {later:%Y-%m-%d}")).to_be_visible()
    versions = page.get_by_role("table", name="Data out price versions")
    expect(versions.get_by_text("SCHEDULED")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/price_book.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    versions.get_by_role("button", name="Withdraw").click()
    expect(
        page.get_by_text(f"Withdrew the Data out price scheduled for {later:%Y-%m-%d}")
    ).to_be_visible()
    expect(versions.get_by_text("SCHEDULED")).to_have_count(0)

    page.get_by_role("link", name="Finance export").click()
    page.get_by_label("Month").fill("")
    page.get_by_role("button", name="Download CSV").click()
    expect(page.get_by_role("alert").filter(has_text="Choose a month (YYYY-MM")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/finance.png", full_page=True)
    page.get_by_label("Month").fill("2026-11")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename == "skiff-invoices-2026-11.csv"
    header = download.value.path().read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("invoice_number,invoice_id,team,")
