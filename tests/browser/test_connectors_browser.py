"""The Connectors tab in Chromium with a real Connect worker (issue 19): clicks only, from home.

A developer goes home → cluster → Connectors → Create connector → the JDBC sink's generated
form (the worker starts on demand) → Validate (our rules and the plugin's errors beside the
fields) → fills it → Validate again (accepted; the password, write-only, is asked for again) →
Create → the detail page follows the connector to RUNNING → Pause → Resume → Edit (the stored
password is never shown) → Delete, with a confirmation. Every page passes `Journey.check`
(no console error, no unexpected 4xx/5xx, fits 390 px, axe-core).
"""

from __future__ import annotations

import os
import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Membership, Role, Team, User
from fleet.services.cells import cell_record_local
from tests.browser.journey import Journey

pytestmark = pytest.mark.kafka

PASSWORD = "s3cure-Passw0rd!"
DESKTOP = {"width": 1440, "height": 900}
# The first form starts the cluster's worker (a JVM) on a loaded machine: allow for it.
WORKER_START_MS = 240_000
STATE_MS = 120_000


def _database() -> dict[str, str]:
    """The test PostgreSQL, as the JDBC sink reaches it."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return {
        "url": f"jdbc:postgresql://127.0.0.1:{parts.port or 5432}{parts.path}",
        "user": parts.username or "postgres",
        "password": parts.password or "",
    }


def _tab(page, name: str):
    return page.get_by_role("list", name="Cluster sections").get_by_role("link", name=name)


def _field(page, key: str):
    """A generated input by its label, which shows the config key."""
    return page.get_by_label(re.compile(rf"(^|\s){re.escape(key)}$"))


def test_connector_journey(page, live_app, kafka_cell):
    cell_record_local(kafka_cell)
    slug = f"k{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    Membership.objects.filter(team=team, user__email=email).update(role=Role.DEVELOPER)
    created = cluster_create(
        team=team, user=User.objects.get(email=email), spec=ClusterSpec(name="shop")
    )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    db = _database()
    page.set_viewport_size(DESKTOP)
    journey = Journey(page, name="connectors")

    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    page.get_by_role("link", name="shop", exact=True).click()
    _tab(page, "Connectors").click()
    expect(page.get_by_text("No connectors yet")).to_be_visible()
    journey.check("connectors, empty")

    page.get_by_role("link", name="Create connector").click()
    expect(page.get_by_role("heading", name="Create connector")).to_be_visible()
    journey.check("catalogue")
    page.get_by_role("link", name="Configure JDBC sink").click()
    # The page answers at once; its fields follow once the worker answers (started now).
    expect(page.get_by_role("heading", name="New connector: JDBC sink")).to_be_visible()
    loading = page.get_by_role("status").filter(has_text="Loading the plugin's settings")
    expect(loading).to_be_visible()
    expect(_field(page, "topics")).to_be_visible(timeout=WORKER_START_MS)
    journey.check("form")

    # Validate with nothing filled in: the errors come back beside their fields.
    page.get_by_label("Connector name").fill("orders-to-db")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("alert").filter(has_text="to fix")).to_be_visible()
    journey.check("form, errors")

    _field(page, "topics").fill("orders")
    _field(page, "connection.url").fill(db["url"])
    _field(page, "connection.username").fill(db["user"])
    _field(page, "connection.password").fill(db["password"])
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("status").filter(has_text="accepts this configuration")).to_be_visible()
    password = _field(page, "connection.password")
    expect(password).to_have_value("")  # write-only: never sent back
    expect(password).to_have_attribute("placeholder", "Type it again")
    journey.check("form, valid")
    password.fill(db["password"])
    page.get_by_role("button", name="Create connector").click()

    expect(page.get_by_role("heading", name="orders-to-db")).to_be_visible(timeout=STATE_MS)
    status = page.locator("#connector-status")
    expect(status.locator(".badge").filter(has_text="RUNNING").first).to_be_visible(
        timeout=STATE_MS
    )
    expect(page.get_by_role("table", name="Tasks")).to_contain_text("RUNNING", timeout=STATE_MS)
    assert db["password"] not in page.content()
    journey.check("detail, running")

    page.get_by_role("button", name="Pause").click()
    expect(status.locator(".badge").filter(has_text="PAUSED").first).to_be_visible(timeout=STATE_MS)
    journey.check("detail, paused")
    page.get_by_role("button", name="Resume").click()
    expect(status.locator(".badge").filter(has_text="RUNNING").first).to_be_visible(
        timeout=STATE_MS
    )

    page.get_by_role("link", name="Edit configuration").click()
    expect(page.get_by_role("heading", name="Edit configuration of orders-to-db")).to_be_visible()
    expect(_field(page, "topics")).to_have_value("orders")
    stored = _field(page, "connection.password")
    expect(stored).to_have_value("")
    expect(stored).to_have_attribute("placeholder", "Stored — leave empty to keep")
    journey.check("edit")
    page.get_by_role("link", name="Cancel").click()

    asked: list[str] = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Delete connector").click()
    expect(page.get_by_text("No connectors yet")).to_be_visible(timeout=STATE_MS)
    assert asked and asked[0].startswith("Delete connector orders-to-db?"), asked
    journey.check("connectors, deleted")
