"""Freshness on the pages (issue 20), in Chromium: from the home page by clicking, the Throughput
tab says when its numbers were read, and so does the Consumer groups tab; at 1440 and 390 px,
light and dark. SKIFF_WALK_DIR keeps the screenshots (else the test's temp dir)."""

import os
import re
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Team, User
from fleet.models import ThroughputSnapshot
from fleet.services.cells import cell_record_local
from fleet.services.sampler import throughput_document
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

PASSWORD = "s3cure-Passw0rd!"
AS_OF = re.compile(r"as of \d\d:\d\d:\d\d UTC")


@pytest.mark.parametrize(
    ("width", "height", "theme"),
    [(1440, 900, "light"), (1440, 900, "dark"), (390, 844, "light"), (390, 844, "dark")],
)
def test_pages_say_how_fresh_their_numbers_are(
    browser, live_app, kafka_cell, admin_connection, tmp_path, width, height, theme
):
    cell = cell_record_local(kafka_cell)
    slug = f"f{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    created = cluster_create(
        team=team, user=User.objects.get(email=email), spec=ClusterSpec(name="fresh")
    )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    cluster = created.cluster
    topic = f"{cluster.wire_prefix}payments"
    eventually(lambda: gateway.create_topic(admin_connection, topic, partitions=1), timeout=30)
    eventually(
        lambda: gateway.commit_group_offsets(
            admin_connection, f"{cluster.wire_prefix}readers", {(topic, 0): 0}
        ),
        timeout=30,
    )
    read_at = timezone.now().replace(microsecond=0)
    ThroughputSnapshot.objects.update_or_create(
        cell=cell,
        defaults={
            "clusters": {
                str(cluster.pk): throughput_document(
                    ts=read_at,
                    topic_rates={"payments": {"bytes_in_per_sec": 2048.0}},
                    topic_storage_bytes={"payments": 4096},
                )
            },
            "taken_at": read_at,
        },
    )
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
        page.get_by_role("link", name="fresh", exact=True).first.click()
        page.get_by_role("link", name="Throughput", exact=True).click()
        as_of = page.locator("#throughput-as-of")
        expect(as_of).to_have_text(f"Numbers as of {read_at:%H:%M:%S} UTC")
        page.wait_for_timeout(300)  # the charts' first frame
        page.screenshot(path=str(out / f"throughput-{theme}-{width}.png"), full_page=True)

        page.get_by_role("link", name="Consumer groups", exact=True).click()
        expect(page.get_by_role("link", name="readers", exact=True)).to_be_visible()
        expect(page.locator("#groups-as-of")).to_contain_text(AS_OF)
        page.screenshot(path=str(out / f"groups-{theme}-{width}.png"), full_page=True)
    finally:
        context.close()
