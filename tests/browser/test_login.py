"""A user signs in with email and password and sees the empty cluster list."""

import re

from django.core.management import call_command
from playwright.sync_api import expect

EMAIL = "ada@example.com"
PASSWORD = "s3cure-Passw0rd!"


def test_login_shows_empty_cluster_list(page, live_app):
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "acme")

    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(re.escape(live_app.url) + r"/$"))
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    expect(page.get_by_text("No clusters yet")).to_be_visible()
    create = page.get_by_role("link", name="Create cluster").or_(
        page.get_by_role("button", name="Create cluster")
    )
    expect(create.first).to_be_visible()


def test_wrong_password_stays_on_login(page, live_app):
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "acme")

    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
