"""The Consumer groups tab in pages (issue 20), in Chromium: from the home page by clicking, a
cluster with 55 groups (lag 55 down to 1) shows 50 a page; sorting by total lag and searching
by id cover every group, not only the page shown; the footer dates the states and lag. At 1440
and 390 px, light and dark. SKIFF_WALK_DIR keeps the screenshots (else the test's temp dir)."""

import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Team, User
from fleet.services.cells import cell_record_local
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

PASSWORD = "s3cure-Passw0rd!"
GROUPS = 55
AS_OF = re.compile(r"states and lag as of \d\d:\d\d:\d\d UTC")


def _rows(page) -> list[str]:
    return page.locator("#group-table tbody tr td:first-child").all_inner_texts()


@pytest.mark.parametrize(
    ("width", "height", "theme"),
    [(1440, 900, "light"), (1440, 900, "dark"), (390, 844, "light"), (390, 844, "dark")],
)
def test_the_group_list_pages_sorts_and_searches_every_group(
    browser, live_app, kafka_cell, admin_connection, tmp_path, width, height, theme
):
    cell_record_local(kafka_cell)
    slug = f"w{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    created = cluster_create(
        team=team, user=User.objects.get(email=email), spec=ClusterSpec(name="walk")
    )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    prefix = created.cluster.wire_prefix
    topic = f"{prefix}events"
    eventually(lambda: gateway.create_topic(admin_connection, topic, partitions=1), timeout=30)
    gateway.produce(admin_connection, topic, [f"m{i}".encode() for i in range(GROUPS)])

    def commit(i: int) -> None:  # group gNNN has read i records: its lag is 55 - i
        eventually(
            lambda: gateway.commit_group_offsets(
                admin_connection, f"{prefix}g{i:03d}", {(topic, 0): i}
            ),
            timeout=60,
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(commit, range(GROUPS)))

    out = Path(os.environ.get("SKIFF_WALK_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        base_url=live_app.url,
        viewport={"width": width, "height": height},
        color_scheme=theme,
        locale="en-US",
        timezone_id="UTC",
    )
    try:
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
        page.get_by_role("link", name="walk", exact=True).first.click()
        page.get_by_role("link", name="Consumer groups", exact=True).click()

        footer = page.locator("#group-table .card-footer")
        expect(footer).to_contain_text(f"{GROUPS} groups")
        expect(footer).to_contain_text("Page 1 of 2")
        expect(page.locator("#groups-as-of")).to_have_text(AS_OF)
        assert _rows(page) == [f"g{i:03d}" for i in range(50)]
        page.screenshot(path=str(out / f"groups-paged-{theme}-{width}.png"), full_page=True)

        # Sort by total lag, highest first: over all 55, not the 50 shown.
        page.get_by_role("link", name="Total lag", exact=True).click()
        expect(page.get_by_role("link", name="Total lag ▲")).to_be_visible()
        page.get_by_role("link", name="Total lag ▲").click()
        expect(page.get_by_role("link", name="Total lag ▼")).to_be_visible()
        assert page.url.endswith("ordering=-lag")  # the address keeps the sort
        assert _rows(page)[:3] == ["g000", "g001", "g002"]
        page.get_by_role("link", name="Next", exact=True).click()
        expect(footer).to_contain_text("Page 2 of 2")
        assert _rows(page) == [f"g{i:03d}" for i in range(50, GROUPS)]
        page.screenshot(path=str(out / f"groups-lag-page2-{theme}-{width}.png"), full_page=True)

        # Search by id: over every group, in the sort chosen last (lowest lag first).
        page.get_by_role("link", name="Total lag ▼").click()
        expect(page.get_by_role("link", name="Total lag ▲")).to_be_visible()
        assert _rows(page)[:2] == ["g054", "g053"]
        page.get_by_label("Search consumer groups").fill("g05")
        expect(footer).to_contain_text(f"5 groups matching, of {GROUPS}")
        assert _rows(page) == ["g054", "g053", "g052", "g051", "g050"]
        expect(page.locator("#groups-as-of")).to_have_text(AS_OF)
        page.screenshot(path=str(out / f"groups-search-{theme}-{width}.png"), full_page=True)

        page.get_by_role("link", name="g052", exact=True).click()
        expect(page.get_by_text(f"{prefix}g052")).to_be_visible()
    finally:
        context.close()
