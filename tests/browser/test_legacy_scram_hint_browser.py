"""The key page's hint for an old librdkafka failing SCRAM (issue 17), in Chromium: from the
home page to the cluster, its Access tab and the key, as a team member clicks.

The failure record is made here (tests/clusters/test_legacy_scram_hint.py makes it for real,
with Debian's kcat). With SKIFF_LEGACY_SCRAM_SCREENSHOTS=<dir>, the key page is saved at 1440
and 390 px, light and dark, to be looked at.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from clusters.models import Cluster
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Team, User
from fleet.models import LegacyScramFailure
from fleet.services.cells import cell_record_local

PASSWORD = "s3cure-Passw0rd!"
SCREENSHOTS = os.environ.get("SKIFF_LEGACY_SCRAM_SCREENSHOTS")


def open_key_page(page: Page, email: str, cluster: Cluster, key_name: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    page.get_by_role("link", name=cluster.name, exact=True).first.click()
    page.get_by_role("link", name="Access", exact=True).click()
    keys = page.get_by_role("table", name="Access keys")
    keys.get_by_role("link", name=key_name, exact=True).click()
    expect(page.get_by_role("heading", name=f"Access key {key_name}")).to_be_visible()


def test_key_page_names_the_old_librdkafka_and_the_way_in(page, live_app, kafka_cell):
    cell = cell_record_local(kafka_cell)
    slug = f"l{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    created = cluster_create(
        team=Team.objects.get(slug=slug),
        user=User.objects.get(email=email),
        spec=ClusterSpec(name="legacy"),
    )
    cluster = Cluster.objects.select_related("cell").get(pk=created.cluster.pk)
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
    key = created.initial_key
    failed_at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=3)
    LegacyScramFailure.objects.create(
        cell=cell,
        username=key.username,
        client_versions="2.0.2",
        last_failed_at=failed_at,
        failures=4,
    )

    open_key_page(page, email, cluster, key.name)
    hint = page.get_by_role("alert").filter(has_text="cannot sign in with this key over SCRAM")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text(
        f"At {failed_at:%Y-%m-%d %H:%M:%S} UTC a client using librdkafka 2.0.2"
    )
    expect(hint).to_contain_text("Upgrade the client to librdkafka 2.6.1 or newer")
    expect(hint).to_contain_text("sasl.mechanisms=PLAIN")
    expect(hint).to_contain_text(cluster.bootstrap_servers)

    if SCREENSHOTS:
        directory = Path(SCREENSHOTS)
        directory.mkdir(parents=True, exist_ok=True)
        for width, height in ((1440, 900), (390, 844)):
            for scheme in ("light", "dark"):
                context = page.context.browser.new_context(
                    base_url=live_app.url,
                    viewport={"width": width, "height": height},
                    color_scheme=scheme,
                )
                context.set_default_timeout(30_000)
                shot = context.new_page()
                open_key_page(shot, email, cluster, key.name)
                shot.screenshot(path=directory / f"key-hint-{width}-{scheme}.png", full_page=False)
                context.close()
