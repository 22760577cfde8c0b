"""Issue 19: platform staff click from the home page to Fleet → Cells → a cell and read its
Connect workers: which tenant cluster, state, memory. No Kafka needed (rows of the database;
the cell's live section says it cannot reach the cell).

With SKIFF_FLEET_SCREENSHOTS=<dir>, the cell page is shot at 1440 and 390 px, light and dark.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from console.models import User
from fleet.models import ConnectWorker
from tests.browser.test_fleet_browser import EMAIL, PASSWORD, open_fleet, sign_in
from tests.factories import CellFactory

SCREENSHOTS = os.environ.get("SKIFF_FLEET_SCREENSHOTS")


def walk(page, cell) -> None:
    sign_in(page)
    open_fleet(page)
    page.get_by_role("table", name="Cells").get_by_role("link", name=cell.name).click()
    expect(page.get_by_role("heading", name=f"Cell {cell.name}")).to_be_visible()


def test_staff_read_a_cells_connect_workers_and_their_memory(page, live_app, browser):
    User.objects.create_user(EMAIL, PASSWORD, is_staff=True)
    cell = CellFactory(name="north", bootstrap_servers="127.0.0.1:9")
    ConnectWorker.objects.create(
        cell=cell,
        tenant_prefix="acme.orders.",
        rest_port=40123,
        pid=4242,
        state=ConnectWorker.State.RUNNING,
        last_rss_bytes=174 * 2**20,
        heap_mb=320,
        restarts=1,
    )
    walk(page, cell)
    workers = page.get_by_role("table", name="Connect workers on north")
    row = workers.get_by_role("row").filter(has_text="acme.orders.")
    expect(row).to_contain_text("RUNNING")
    expect(row).to_contain_text("174.0 MB")
    expect(row).to_contain_text("127.0.0.1:40123")
    if SCREENSHOTS:
        directory = Path(SCREENSHOTS)
        directory.mkdir(parents=True, exist_ok=True)
        for width, height in ((1440, 900), (390, 844)):
            for scheme in ("light", "dark"):
                context = browser.new_context(
                    base_url=live_app.url,
                    viewport={"width": width, "height": height},
                    color_scheme=scheme,
                )
                shot = context.new_page()
                walk(shot, cell)
                shot.get_by_role("heading", name="Connect workers").scroll_into_view_if_needed()
                shot.screenshot(path=directory / f"connect-workers-{width}-{scheme}.png")
                context.close()
