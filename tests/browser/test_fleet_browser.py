"""The fleet pages in Chromium (issue 14), as platform staff click through them: from the home
page to Fleet → Cells, into the session's real 3-node cell (brokers, quorum and partitions read
live, swapped in by htmx), its admission control, an operation's preview, and a broker's page.

With SKIFF_FLEET_SCREENSHOTS=<dir>, the walk is repeated at 1440 and 390 px, light and dark,
and screenshots are saved there to be looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from console.models import User
from fleet.models import Cell

EMAIL = "platform@example.com"
PASSWORD = "s3cure-Passw0rd!"
SCREENSHOTS = os.environ.get("SKIFF_FLEET_SCREENSHOTS")


def sign_in(page: Page) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def open_fleet(page: Page) -> None:
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():  # below the lg breakpoint the navigation folds behind it
        menu.click()
    page.get_by_role("link", name="Fleet", exact=True).click()
    expect(page.get_by_role("heading", name="Cells")).to_be_visible()


def test_staff_walk_from_home_to_a_cell_its_brokers_and_an_operation_preview(
    page, live_app, cell, browser
):
    User.objects.create_user(EMAIL, PASSWORD, is_staff=True)
    sign_in(page)
    open_fleet(page)

    cells = page.get_by_role("table", name="Cells")
    expect(cells.get_by_role("link", name=cell.name)).to_be_visible()
    expect(page.get_by_text("A new serverless cluster goes to")).to_be_visible()
    cells.get_by_role("link", name=cell.name).click()
    expect(page.get_by_role("heading", name=f"Cell {cell.name}")).to_be_visible()

    # The live section: every broker up, a quorum leader, no partition under-replicated.
    brokers = page.get_by_role("table", name=f"Brokers of {cell.name}")
    expect(brokers.get_by_role("row")).to_have_count(4, timeout=30_000)  # header + 3 brokers
    for node_id in (1, 2, 3):
        expect(page.get_by_test_id(f"broker-{node_id}-status")).to_have_text("UP")
    quorum = page.get_by_role("table", name=f"Controller quorum of {cell.name}")
    expect(quorum.get_by_text("LEADER")).to_have_count(1)
    expect(page.get_by_test_id("offline")).to_have_text("0")

    # Admission: drain the cell; placement then skips it.
    page.get_by_label("Admission of new clusters").select_option("draining")
    page.get_by_role("button", name="Change admission").click()
    expect(page.get_by_text(f"Cell {cell.name} is now draining.")).to_be_visible()
    assert Cell.objects.get(pk=cell.pk).admission == Cell.Admission.DRAINING
    expect(page.get_by_text("Takes no new clusters: admission is draining.")).to_be_visible()

    # An operation's preview (nothing starts until it is confirmed).
    page.get_by_label("Operation", exact=True).select_option("rebalance")
    page.get_by_label("Rebalance mode").select_option("full")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#operation-preview")
    expect(preview.get_by_role("heading", name="Preview: Rebalance (full)")).to_be_visible(
        timeout=30_000
    )
    expect(preview.get_by_role("button", name="Confirm and start")).to_be_visible()
    assert not cell.operations.exists()

    # A broker's own page.
    page.get_by_role("link", name="Broker 2").click()
    expect(page.get_by_role("heading", name="Broker 2")).to_be_visible()
    expect(page.get_by_test_id("broker-status")).to_have_text("UP")

    if SCREENSHOTS:
        Cell.objects.filter(pk=cell.pk).update(admission=Cell.Admission.OPEN)
        shoot(browser, live_app, cell, Path(SCREENSHOTS))


def shoot(browser, live_app, cell, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        for scheme in ("light", "dark"):
            context = browser.new_context(
                base_url=live_app.url,
                viewport={"width": width, "height": height},
                color_scheme=scheme,
            )
            page = context.new_page()
            sign_in(page)
            open_fleet(page)
            page.screenshot(path=directory / f"cells-{width}-{scheme}.png", full_page=True)
            page.get_by_role("table", name="Cells").get_by_role("link", name=cell.name).click()
            brokers = page.get_by_role("table", name=f"Brokers of {cell.name}")
            expect(brokers.get_by_role("row")).to_have_count(4, timeout=30_000)
            page.get_by_label("Operation", exact=True).select_option("rebalance")
            page.get_by_label("Rebalance mode").select_option("full")
            page.get_by_role("button", name="Preview").click()
            expect(page.get_by_role("button", name="Confirm and start")).to_be_visible(
                timeout=30_000
            )
            page.screenshot(path=directory / f"cell-{width}-{scheme}.png", full_page=True)
            page.get_by_role("link", name="Broker 1").click()
            expect(page.get_by_test_id("broker-status")).to_be_visible()
            page.screenshot(path=directory / f"broker-{width}-{scheme}.png", full_page=True)
            page.goto("/fleet/register/")
            page.screenshot(path=directory / f"register-{width}-{scheme}.png", full_page=True)
            context.close()
