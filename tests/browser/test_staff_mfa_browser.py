"""Platform staff's second factor in Chromium (issue 15): from the home page to Two-factor
sign-in by the navigation, scanning is replaced by reading the secret shown as text, the app's
code turns it on; signing out and in again asks for the code before the home page.

With SKIFF_MFA_SCREENSHOTS=<dir>, the walk is repeated at 1440 and 390 px, light and dark, and
screenshots are saved there to be looked at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from console.models import User
from tests.console.test_staff_mfa import code_for
from tests.factories import MembershipFactory

PASSWORD = "s3cure-Passw0rd!"
SCREENSHOTS = os.environ.get("SKIFF_MFA_SCREENSHOTS")


def sign_in(page: Page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def walk(page: Page, email: str, shots: Path | None = None, suffix: str = "") -> None:
    user = User.objects.create_user(email=email, password=PASSWORD, is_staff=True)
    MembershipFactory(user=user)  # staff who also work in a team: home is their clusters
    sign_in(page, email)
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():  # a phone: the navigation folds away behind this button
        menu.click()
    link = page.get_by_role("link", name="Two-factor sign-in")
    expect(link).to_be_visible()  # the folded menu has opened
    link.click()
    expect(page).to_have_url(re.compile(r"/account/two-factor/$"))
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.locator("svg.skiff-qr")).to_be_visible()
    secret = page.get_by_label("Secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret.strip()), secret
    if shots:
        page.screenshot(path=shots / f"mfa-setup{suffix}.png", full_page=True)
    key = _key(secret)
    page.get_by_label("Code from your authenticator app").fill(code_for(key))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_text("Two-factor sign-in is on")).to_be_visible()
    if shots:
        page.screenshot(path=shots / f"mfa-on{suffix}.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, email)
    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    if shots:
        page.screenshot(path=shots / f"mfa-verify{suffix}.png", full_page=True)
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Verify").click()
    if code_for(key) != "000000":
        expect(page.get_by_text("That code is not right")).to_be_visible()
    if shots:
        page.screenshot(path=shots / f"mfa-wrong{suffix}.png", full_page=True)
    # Wrong codes wait (1 s after the first): the page says so until the wait is over.
    field = page.get_by_label("Code from your authenticator app")
    for _ in range(20):
        field.fill(code_for(key, steps_ahead=1))
        page.get_by_role("button", name="Verify").click()
        if page.get_by_role("heading", name="Clusters").is_visible():
            break
        expect(page.get_by_text("Too many wrong codes")).to_be_visible()
        page.wait_for_timeout(500)  # the throttle's own wait, not a race
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()


def _key(secret: str) -> bytes:
    from base64 import b32decode

    raw = secret.replace(" ", "")
    return b32decode(raw + "=" * (-len(raw) % 8))


def test_staff_enrol_and_verify_by_clicking(page, live_app):
    walk(page, "staff-mfa@example.com")
    if SCREENSHOTS:
        shoot(page.context.browser, live_app, Path(SCREENSHOTS))


def shoot(browser, live_app, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        for scheme in ("light", "dark"):
            context = browser.new_context(
                base_url=live_app.url,
                viewport={"width": width, "height": height},
                color_scheme=scheme,
            )
            context.set_default_timeout(30_000)
            walk(
                context.new_page(),
                f"staff-mfa-{width}-{scheme}@example.com",
                directory,
                f"-{width}-{scheme}",
            )
            context.close()
