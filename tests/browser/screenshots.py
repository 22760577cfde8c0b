"""`make screenshots`: PNGs of the console's main pages, light and dark, in docs/screenshots/.

Not part of the test suite (the file name does not start with test_); `make screenshots`
runs it with pytest for its fixtures: the live app on the test database, Chromium. The data
is made up here (a team, a cluster on a placeholder cell, a day of usage and the last
minutes of throughput), so no Kafka cell is needed (nor a Connect worker: the Connectors page
shot is the plugin catalogue). Pages are shot at 1440 x 900 in light
and dark mode, and the cluster list and throughput also at 390 x 844 (a phone).

SKIFF_SCREENSHOTS_DIR writes elsewhere (the default is docs/screenshots/ of this clone).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from billing.periods import month_of
from billing.services.invoices import recompute_draft
from console.models import Team
from tests.billing.sources import GIB, billed_cluster, minute_row, partitions

ROOT_DIR = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("SKIFF_SCREENSHOTS_DIR", ROOT_DIR / "docs" / "screenshots"))
EMAIL = "ada@example.com"
PASSWORD = "s3cure-Passw0rd!"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _data():
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "acme")
    team = Team.objects.get(slug="acme")
    now = timezone.now().replace(second=0, microsecond=0)
    start = max(
        dt.datetime.combine(month_of(now), dt.time(), tzinfo=dt.UTC), now - dt.timedelta(days=6)
    )
    when = start.strftime("%Y-%m-%d %H:%M")
    orders = billed_cluster(when, team=team, name="orders", tags={"env": "prod"})
    billed_cluster(when, team=team, name="analytics", tags={"env": "staging"})
    partitions(orders, "payments", when, 12)
    partitions(orders, "clicks", when, 6)
    day = start
    while day < now:  # a day's traffic each day, growing
        size = 1 + (day - start).days
        minute_row(orders, "payments", day.strftime("%Y-%m-%d %H:%M"), bytes_in=size * GIB)
        minute_row(orders, "clicks", day.strftime("%Y-%m-%d %H:%M"), storage=size * GIB // 2)
        day += dt.timedelta(days=1)
    for back in range(1, 16):  # the last quarter hour: a wave of traffic
        minute = (now - dt.timedelta(minutes=back)).strftime("%Y-%m-%d %H:%M")
        wave = 1 + math.sin(back / 2.5)
        minute_row(
            orders,
            "payments",
            minute,
            bytes_in=int(40_000_000 * wave),
            bytes_out=int(70_000_000 * wave),
            messages=int(30_000 * wave),
        )
        minute_row(orders, "clicks", minute, bytes_in=int(9_000_000 * (2 - wave)), messages=9_000)
    recompute_draft(team, month_of(now))
    return orders


def _shoot(page, name: str, theme: str, width: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # the charts' first frame
    suffix = "" if width == "desktop" else f"-{width}"
    page.screenshot(path=str(OUT / f"{name}-{theme}{suffix}.png"))


def test_screenshots(browser, live_app):
    cluster = _data()
    pages = [
        ("clusters", "/"),
        ("cluster", f"/clusters/{cluster.pk}/"),
        ("throughput", f"/clusters/{cluster.pk}/throughput/"),
        ("usage", "/billing/"),
        ("invoices", "/billing/invoices/"),
    ]
    for theme in ("light", "dark"):
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            if width == "phone" and theme == "dark":
                continue
            context = browser.new_context(
                base_url=live_app.url,
                viewport=viewport,
                color_scheme=theme,
                locale="en-US",
                timezone_id="UTC",
            )
            try:
                page = context.new_page()
                page.goto("/login/")
                page.get_by_label("Email").fill(EMAIL)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
                for name, path in pages:
                    if width == "phone" and name not in ("clusters", "throughput", "usage"):
                        continue
                    page.goto(path)
                    _shoot(page, name, theme, width)
                if width == "phone":
                    page.get_by_role("button", name="Menu").click()
                    _shoot(page, "navigation", theme, width)
                    continue
                page.get_by_role("link", name="Invoices").last.click()
                page.get_by_role("link", name=f"Draft {month_of(timezone.now()):%Y-%m}").click()
                _shoot(page, "invoice", theme, width)
                page.goto("/clusters/new/")
                page.get_by_role("button", name="Next").click()
                page.get_by_label("Cluster name").fill("payments")
                page.get_by_label("Tags").fill("env=prod\nowner=payments-team")
                page.get_by_role("button", name="Next").click()
                page.get_by_role("button", name="Next").click()
                _shoot(page, "wizard-review", theme, width)
                # Connectors (issue 19): the catalogue needs no worker.
                page.goto(f"/clusters/{cluster.pk}/connectors/new/")
                _shoot(page, "connectors-catalogue", theme, width)
            finally:
                context.close()
