"""Production hardening: check --deploy, login lockout, CSRF on every form, the CSP."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, MembershipFactory

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "SKIFF_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "skiff.example.com",
        "SKIFF_HOME": str(tmp_path),
    }
    env.pop("DJANGO_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "SKIFF_ENV": "production", "SKIFF_HOME": str(tmp_path)}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_repeated_bad_logins_lock_out_the_email_from_that_address(client, settings):
    member = MembershipFactory()
    email = member.user.email
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/login/", {"username": email, "password": "wrong"})
        assert response.status_code == 200 and b"Wrong email or password." in response.content
    locked = client.post("/login/", {"username": email.upper(), "password": "wrong"})
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    # Even the right password is refused while locked.
    right = client.post("/login/", {"username": email, "password": DEFAULT_PASSWORD})
    assert right.status_code == 429
    # Another address is not locked out of the same account.
    other = Client(REMOTE_ADDR="192.0.2.44")
    response = other.post("/login/", {"username": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_failure_count(client, settings):
    member = MembershipFactory()
    email = member.user.email
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/login/", {"username": email, "password": "wrong"})
    assert client.post("/login/", {"username": email, "password": DEFAULT_PASSWORD}).status_code
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/login/", {"username": email, "password": "wrong"})
        assert response.status_code == 200


@pytest.mark.django_db
def test_posts_without_a_csrf_token_are_refused():
    member = MembershipFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    response = client.post("/team/tokens/", {"name": "x"})
    assert response.status_code == 403


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    forms = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r'method="post"', match.group(0)[:300], re.I):
                forms.append(template.relative_to(ROOT))
                assert "{% csrf_token %}" in match.group(1), f"{template}: a POST form lacks it"
    assert forms  # the scan found the forms


@pytest.mark.django_db
def test_pages_and_api_send_a_same_origin_content_security_policy(client):
    member = MembershipFactory()
    client.force_login(member.user)
    for url in ("/", "/login/", "/team/", "/api/v1/team/", "/api/docs/"):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert directives["style-src"] == "'self'", url
        assert directives["img-src"] == "'self' data:", url
        assert directives["frame-ancestors"] == "'none'", url
        assert "unsafe" not in policy


def test_templates_have_no_inline_scripts_styles_or_handlers():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"<style\b", text), template
        assert not re.search(r"\sstyle=\"", text), template
        assert not re.search(r"\son[a-z]+=\"", text), template
