"""Click-only journeys through the console in Chromium (issue 16, acceptance 1, 4 and 6).

After the first `page.goto` to the sign-in page every step is a click, a key press or a form
fill, the way a person moves through the console: a link nobody can click fails here. (The
invited viewer opens the invitation link from their mail: that is their first page.)

At every page (`Journey.check`): no console error, no 4xx/5xx the step did not expect, the
content no wider than the viewport and no wider than a 390 px phone, and no serious or
critical axe-core violation.

* Developer, at 1440 px: home → cluster list → open cluster → create topic → topic →
  produce in the UI → messages → consumer groups → Access → new key (copy the secret) →
  choose a policy template (loads into the editor; asks before replacing edits) → preview →
  save → ACLs → Throughput, where the chart follows a real client producing with that key.
* Admin, at 390 x 844 (a phone; the navigation opens from its toggle): Team → invite →
  accept in a second browser context → the viewer sees no tabs they cannot use → Billing →
  Usage → Invoices → open an invoice → download the PDF and the CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
import textwrap
import time
import uuid

from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.periods import month_of
from billing.services.invoices import recompute_draft
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Membership, Role, Team, User
from fleet.services.cells import cell_record_local
from fleet.services.sampler import SamplerThread
from tests.billing.sources import GIB, billed_cluster, minute_row, partitions
from tests.browser.journey import PHONE, Journey

PASSWORD = "s3cure-Passw0rd!"
DESKTOP = {"width": 1440, "height": 900}

PRODUCER = textwrap.dedent(
    """\
    import sys, time
    from confluent_kafka import Producer

    bootstrap, username, password, ca, topic, seconds = sys.argv[1:7]
    producer = Producer({
        "bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": username,
        "sasl.password": password, "ssl.ca.location": ca, "linger.ms": 5,
    })
    producer.list_topics(topic, timeout=30)
    print("connected", flush=True)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        producer.produce(topic, value=b"x" * 2048)
        producer.poll(0.02)
    producer.flush(30)
    print("done", flush=True)
    """
)

LIVE_POINTS = """
(el) => {
  const c = el.__skiffChart;
  if (!c) return [];
  return c.data[0].map((t, i) => [t, c.data[1][i]]);
}
"""


def _sign_in(page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()


def _tab(page, name: str):
    return page.get_by_role("list", name="Cluster sections").get_by_role("link", name=name)


# --- developer -------------------------------------------------------------------------------


def test_developer_journey(page, context, live_app, kafka_cell, tmp_path):
    cell = cell_record_local(kafka_cell)
    slug = f"j{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    Membership.objects.filter(team=team, user__email=email).update(role=Role.DEVELOPER)
    created = cluster_create(
        team=team, user=User.objects.get(email=email), spec=ClusterSpec(name="web")
    )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_app.url)
    page.set_viewport_size(DESKTOP)
    journey = Journey(page, name="developer")

    _sign_in(page, email)
    journey.check("home")
    journey.nav("Clusters")
    journey.check("cluster list")
    page.get_by_role("link", name="web", exact=True).click()
    expect(page.get_by_role("heading", name="web", exact=True)).to_be_visible()
    journey.check("cluster")

    # Create a topic.
    _tab(page, "Topics").click()
    journey.check("topics")
    page.get_by_role("link", name="Create topic").first.click()
    journey.check("create topic")
    page.get_by_label("Topic name").fill("clicks")
    page.get_by_label("Partitions").fill("2")
    page.get_by_role("button", name="Create topic").click()
    expect(page.get_by_role("heading", name="clicks")).to_be_visible()
    journey.check("topic")

    # Produce in the UI, then read it back in the compact message table.
    page.get_by_role("link", name="Messages").click()
    journey.check("messages (empty)")
    page.get_by_label("Key").fill("user-7")
    long_value = json.dumps({"clicked": "checkout", "items": list(range(80))})
    page.get_by_label("Value").fill(long_value)
    page.get_by_label("Headers").fill("source=browser")
    page.get_by_role("button", name="Produce").click()
    expect(page.get_by_role("status").filter(has_text="Produced to partition")).to_be_visible()
    messages = page.get_by_role("table", name="Messages")
    expect(messages).to_contain_text("user-7")
    row = messages.locator("tbody tr").first
    assert row.bounding_box()["height"] < 60, "a message row is more than one line"
    row.locator(".skiff-message-value summary").click()  # expand the value
    expect(row.locator(".skiff-message-value .skiff-full")).to_contain_text('"clicked"')
    journey.check("messages")

    _tab(page, "Consumer groups").click()
    expect(page.get_by_label("Search consumer groups")).to_be_visible()
    journey.check("consumer groups")

    # A new key; its secret is copied with the button.
    _tab(page, "Access").click()
    journey.check("access")
    page.get_by_label("Key name").fill("journey")
    page.get_by_role("radio", name=re.compile(r"^Producer( —|$)")).check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Save this secret now")).to_be_visible()
    secret = page.get_by_label("Secret", exact=True).input_value()
    page.get_by_role("button", name="Copy secret").first.click()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    keys = page.get_by_role("table", name="Access keys")
    username = keys.get_by_role("row").filter(has_text="journey").locator("code").first.inner_text()
    journey.check("access, new key")

    # The policy editor: a template loads into the document; edits are not lost unasked.
    keys.get_by_role("link", name="journey", exact=True).click()
    expect(page.get_by_role("heading", name="Access key journey")).to_be_visible()
    journey.check("key")
    templates = json.loads(page.locator("#policy-templates").text_content())
    document = page.get_by_label("Policy document (JSON)")
    page.get_by_label("Produce and consume all topics").check()
    expect(document).to_have_value(templates["produce_consume"])
    document.press("End")
    document.press("Enter")  # an edit: still valid JSON, now a custom policy
    expect(page.get_by_label("Custom JSON policy")).to_be_checked()
    edited = document.input_value()
    asked: list[str] = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_label("Consumer", exact=True).click()
    assert asked and "unsaved edits" in asked[0], asked
    expect(page.get_by_label("Custom JSON policy")).to_be_checked()
    expect(document).to_have_value(edited)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Produce and consume all topics").check()
    expect(document).to_have_value(templates["produce_consume"])
    page.get_by_role("button", name="Preview ACL bindings").click()
    expect(page.get_by_role("table", name="ACL bindings preview")).to_be_visible()
    journey.check("key, preview")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("heading", name="Access key journey")).to_be_visible()
    expect(page.get_by_label("Produce and consume all topics")).to_be_checked()
    journey.check("key, saved")

    _tab(page, "ACLs").click()
    expect(page.get_by_role("table", name="ACL bindings")).to_contain_text(username)
    journey.check("acls")

    # Throughput: the chart follows a client producing with the new key.
    sampler = SamplerThread(interval=5)
    sampler.start()
    producer = None
    try:
        _tab(page, "Throughput").click()
        expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=20_000)
        journey.check("throughput")
        opened = time.time()
        script = tmp_path / "producer.py"
        script.write_text(PRODUCER)
        producer = subprocess.Popen(
            [
                sys.executable,
                str(script),
                cell.bootstrap_servers,
                username,
                secret,
                cell.ca_path,
                f"{created.cluster.wire_prefix}clicks",
                "25",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = producer.stdout.readline()
        assert first.startswith("connected"), producer.stderr.read()
        chart = page.locator('[data-skiff-chart="live-bytes"]')
        deadline = time.monotonic() + 30
        while True:
            points = [p for p in chart.evaluate(LIVE_POINTS) if p[0] >= opened]
            if any(v and v > 0 for _t, v in points):
                break
            assert time.monotonic() < deadline, f"the chart never rose above 0: {points}"
            page.wait_for_timeout(250)
        expect(page.get_by_role("row").filter(has_text="clicks")).to_contain_text("/s")
        journey.check("throughput, live")
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
            producer.wait()
        sampler.stop()
    assert len(journey.pages_checked) >= 15, journey.pages_checked


# --- admin, on a phone -----------------------------------------------------------------------


def test_admin_journey_on_a_phone(page, context, browser, live_app, tmp_path):
    slug = f"a{uuid.uuid4().hex[:8]}"
    owner = f"{slug}@example.com"
    viewer = f"viewer.{slug}@example.com"
    call_command("create_team_admin", "--email", owner, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    now = timezone.now().replace(second=0, microsecond=0)
    start = max(
        dt.datetime.combine(month_of(now), dt.time(), tzinfo=dt.UTC), now - dt.timedelta(days=2)
    )
    when = start.strftime("%Y-%m-%d %H:%M")
    cluster = billed_cluster(when, team=team, name="orders")
    partitions(cluster, "payments", when, 6)
    minute_row(cluster, "payments", when, bytes_in=2 * GIB, storage=GIB)
    invoice = recompute_draft(team, month_of(now))
    assert invoice is not None and invoice.subtotal > 0

    page.set_viewport_size(PHONE)
    journey = Journey(page, name="admin (390 px)")
    _sign_in(page, owner)
    journey.check("home")
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("complementary").get_by_role("link", name="Team")).to_be_hidden()

    # Team → invite a viewer.
    journey.nav("Team")
    journey.check("team")
    page.get_by_role("link", name="Invitations").click()
    journey.check("invitations")
    page.get_by_label("Email").fill(viewer)
    page.get_by_label("Role").select_option(label="Viewer")
    page.get_by_role("button", name="Send invitation").click()
    sent = page.get_by_role("alert").filter(has_text=f"Invitation sent to {viewer}")
    expect(sent).to_be_visible()
    link = page.get_by_label("Invitation link").input_value()
    journey.check("invitation sent")

    # The viewer accepts in a second browser, and sees only the tabs they may use.
    viewer_context = browser.new_context(
        base_url=live_app.url, viewport=PHONE, locale="en-US", timezone_id="UTC"
    )
    try:
        other = viewer_context.new_page()
        seen = Journey(other, name="viewer (390 px)")
        other.goto(link)  # the link from the invitation mail: the viewer's first page
        seen.check("invitation")
        other.get_by_label("Your name").fill("Vera Viewer")
        other.get_by_label("Password", exact=True).fill("Ocean-Kite-42x")
        other.get_by_label("Confirm password").fill("Ocean-Kite-42x")
        other.get_by_role("button", name="Create account and join").click()
        expect(other.get_by_text(f"Welcome to the team {slug}: you are Viewer.")).to_be_visible()
        seen.check("home")
        other.get_by_role("link", name="orders", exact=True).click()
        expect(other.get_by_role("heading", name="orders", exact=True)).to_be_visible()
        tabs = other.get_by_role("list", name="Cluster sections").get_by_role("link")
        expect(tabs).to_have_text(
            ["Overview", "Topics", "Consumer groups", "Connectors", "Throughput"]
        )
        seen.check("cluster")
        other.get_by_role("button", name="Menu").click()
        menu = other.get_by_role("complementary", name="Main navigation")
        expect(menu.get_by_role("link", name="Team", exact=True)).to_be_visible()
        expect(menu.get_by_role("link", name="Billing")).to_have_count(0)
        menu.get_by_role("link", name="Team", exact=True).click()
        team_tabs = other.get_by_role("list", name="Team sections").get_by_role("link")
        expect(team_tabs).to_have_text(["Overview"])
        seen.check("team")
    finally:
        viewer_context.close()

    # Billing: usage, the invoices, one invoice and its files.
    journey.nav("Billing")
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    journey.check("usage")
    page.get_by_role("list", name="Billing sections").get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("table", name="Invoices")).to_be_visible()
    journey.check("invoices")
    page.get_by_role("link", name=f"Draft {month_of(now):%Y-%m}").click()
    expect(page.get_by_text("This is a draft")).to_be_visible()
    journey.check("invoice")
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = tmp_path / "invoice.pdf"
    pdf_download.value.save_as(pdf)
    text = " ".join(PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text().split())
    assert "DRAFT" in text and "orders" in text
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(csv_download.value.path().read_text())))
    assert len(rows) >= 2 and any("orders" in cell for row in rows[1:] for cell in row), rows
    journey.check("invoice, downloaded")
    assert Membership.objects.get(team=team, user__email=viewer).role == Role.VIEWER
