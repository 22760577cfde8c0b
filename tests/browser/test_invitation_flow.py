"""An owner invites a developer; the invitee sets a password in a fresh browser and lands in
the team with that role. The used link is refused afterwards."""

import re

from django.core.management import call_command
from playwright.sync_api import expect

from console.models import Membership, Role

OWNER = "olga@example.com"
PASSWORD = "s3cure-Passw0rd!"
INVITEE = "dev.newcomer@example.com"


def test_invite_accept_with_a_new_password_and_land_in_the_team(page, browser, live_app):
    call_command("create_team_admin", "--email", OWNER, "--password", PASSWORD, "--team", "acme")

    page.goto("/login/")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_role("link", name="Invitations").click()

    page.get_by_label("Email").fill(INVITEE)
    page.get_by_label("Role").select_option(label="Developer")
    page.get_by_role("button", name="Send invitation").click()
    sent = page.get_by_role("alert").filter(has_text=f"Invitation sent to {INVITEE}")
    expect(sent).to_be_visible()
    link = page.get_by_label("Invitation link").input_value()
    assert re.match(re.escape(live_app.url) + r"/invite/inv_[\w-]+/$", link)
    expect(page.get_by_role("table")).to_contain_text(INVITEE)

    invitee_context = browser.new_context(base_url=live_app.url)
    try:
        invitee = invitee_context.new_page()
        invitee.goto(link)
        expect(invitee.get_by_role("heading", name="Join the team acme")).to_be_visible()
        expect(invitee.get_by_label("Email")).to_have_value(INVITEE)
        invitee.get_by_label("Your name").fill("Newcomer")
        invitee.get_by_label("Password", exact=True).fill("Ocean-Kite-42x")
        invitee.get_by_label("Confirm password").fill("Ocean-Kite-42x")
        invitee.get_by_role("button", name="Create account and join").click()

        expect(invitee).to_have_url(re.compile(re.escape(live_app.url) + r"/$"))
        expect(invitee.get_by_text("Welcome to the team acme: you are Developer.")).to_be_visible()
        expect(invitee.get_by_role("heading", name="Clusters")).to_be_visible()
        expect(invitee.get_by_label("Team", exact=True)).to_contain_text("acme (Developer)")
        # A developer may create clusters, and sees no member administration.
        expect(invitee.get_by_role("link", name="Create cluster").first).to_be_visible()
        assert invitee.request.get("/team/members/").status == 403
    finally:
        invitee_context.close()

    membership = Membership.objects.get(user__email=INVITEE, team__slug="acme")
    assert membership.role == Role.DEVELOPER

    # The inviter sees the new member with the role; the link cannot be used again.
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_label(f"Role of {INVITEE}")).to_have_value("developer")
    reuse_context = browser.new_context(base_url=live_app.url)
    try:
        again = reuse_context.new_page()
        response = again.goto(link)
        assert response.status == 410
        expect(again.get_by_role("alert")).to_contain_text("already been used")
    finally:
        reuse_context.close()
