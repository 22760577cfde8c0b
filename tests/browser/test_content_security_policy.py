"""The console works under its Content-Security-Policy: no page triggers a CSP violation."""

from django.core.management import call_command
from playwright.sync_api import expect

EMAIL = "csp@example.com"
PASSWORD = "s3cure-Passw0rd!"


def test_console_pages_and_api_docs_raise_no_csp_violation(page, live_app):
    call_command(
        "create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "csp", "--staff"
    )
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    for path in ("/team/", "/team/members/", "/team/tokens/", "/team/audit/", "/billing/"):
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    page.goto("/api/docs/")
    expect(page.get_by_text("Skiff API").first).to_be_visible()
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations == []
