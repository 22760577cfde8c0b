"""Issue 15: the embedded database holds concurrency and is owner-only; `make run`'s defaults
are production-safe (DEBUG off, a per-installation SECRET_KEY); secrets stay out of logs, the
console's output and caches; sessions end."""

import io
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import mail

from console.log_redaction import RedactSecretsFilter, redact
from console.mail import OwnerOnlyFileBackend
from console.management.commands.run_console import Command as RunConsole
from console.middleware import SESSION_SEEN_KEY, SESSION_STARTED_KEY
from tests.console.embedded import ROOT, embedded_env
from tests.factories import MembershipFactory

PROBE = """
import json, os, sqlite3
import django
django.setup()
from django.conf import settings
from django.db import connection
connection.ensure_connection()
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy = cursor.fetchone()[0]
print(json.dumps({
    "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
    "vendor": connection.vendor,
    "journal_mode": journal,
    "busy_timeout_ms": busy,
    "transaction_mode": connection.transaction_mode,
    "email_backend": settings.EMAIL_BACKEND,
}))
"""


def probe(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_make_run_defaults_are_production_safe(tmp_path):
    """DEBUG off, a generated owner-only SECRET_KEY kept across starts, the embedded SQLite in
    WAL mode with a busy timeout and BEGIN IMMEDIATE, mail to owner-only files."""
    home, db = tmp_path / "home", tmp_path / "var" / "skiff.sqlite3"
    first = probe(embedded_env(home, db))
    assert first["debug"] is False
    assert first["vendor"] == "sqlite"
    assert first["journal_mode"] == "wal"
    assert first["busy_timeout_ms"] >= 10_000
    assert first["transaction_mode"] == "IMMEDIATE"
    assert first["email_backend"] == "console.mail.OwnerOnlyFileBackend"
    key_file = home / "secret-key"
    assert first["secret_key"] == key_file.read_text().strip()
    assert len(first["secret_key"]) >= 50 and "insecure" not in first["secret_key"]
    assert mode(key_file) == 0o600 and mode(home) == 0o700
    assert mode(db) == 0o600 and mode(db.parent) == 0o700

    second = probe(embedded_env(home, db, DJANGO_DEBUG="1", DJANGO_SECRET_KEY="from-the-env-x"))
    assert second["debug"] is True
    assert second["secret_key"] == "from-the-env-x"  # the environment wins
    assert probe(embedded_env(home, db))["secret_key"] == first["secret_key"]  # kept


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path):
    """An installation from before issue 15 (644 in a 755 folder) is tightened on connect,
    the WAL and shared-memory files included."""
    folder = tmp_path / "var"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    db = folder / "skiff.sqlite3"
    db.write_bytes(b"")
    db.chmod(0o644)
    probe(embedded_env(tmp_path / "home", db))
    assert mode(folder) == 0o700 and mode(db) == 0o600
    for side in (folder / "skiff.sqlite3-wal", folder / "skiff.sqlite3-shm"):
        if side.exists():
            assert mode(side) == 0o600, side


def test_migrate_creates_the_database_owner_only(tmp_path):
    home, db = tmp_path / "home", tmp_path / "fresh" / "skiff.sqlite3"
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=embedded_env(home, db),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(db) == 0o600 and mode(db.parent) == 0o700


def test_invitation_and_reset_tokens_are_redacted_from_log_lines():
    assert redact("HTTP GET /invite/AbC-123_x/ 200 [0.01, 127.0.0.1:5]") == (
        "HTTP GET /invite/[redacted]/ 200 [0.01, 127.0.0.1:5]"
    )
    assert redact("Not Found: /reset/MQ/cf7ri4-0a1b2c/") == "Not Found: /reset/MQ/[redacted]/"
    assert redact("GET /reset/MQ/set-password/ 200") == "GET /reset/MQ/set-password/ 200"

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        # Daphne's access log passes the request's details as a dict.
        logger.warning("HTTP %(method)s %(path)s", {"method": "GET", "path": "/invite/s3cr3t/"})
    finally:
        logger.removeHandler(handler)
    assert "s3cr3t" not in stream.getvalue() and "/invite/[redacted]/" in stream.getvalue()


def test_the_settings_put_the_redaction_on_the_console_handler():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters)


def test_mail_is_written_to_owner_only_files(tmp_path):
    folder = tmp_path / "mail"
    backend = OwnerOnlyFileBackend(file_path=str(folder))
    message = mail.EmailMessage("Invitation", "http://x/invite/tok/", "a@x", ["b@x"])
    assert backend.send_messages([message]) == 1
    (written,) = folder.iterdir()
    assert mode(folder) == 0o700 and mode(written) == 0o600
    assert "/invite/tok/" in written.read_text()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_first_run_password_is_printed_only_to_a_terminal(settings, tmp_path, terminal):
    settings.SKIFF_HOME = tmp_path / "home"
    out = _Terminal() if terminal else io.StringIO()
    command = RunConsole(stdout=out)
    command._print_login("127.0.0.1:8000")
    password_file = settings.SKIFF_HOME / "console-admin-password"
    password = password_file.read_text().strip()
    assert mode(password_file) == 0o600
    assert str(password_file) in out.getvalue()
    assert (password in out.getvalue()) is terminal


@pytest.mark.django_db
def test_pages_and_api_answers_are_not_stored(client):
    member = MembershipFactory()
    client.force_login(member.user)
    created = client.post("/team/tokens/", {"name": "ci", "role": "admin"})
    api = client.get("/api/v1/team/")
    for response in (created, api, client.get("/team/tokens/"), client.get("/login/")):
        assert "no-store" in response["Cache-Control"], response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("started_ago", "seen_ago", "signed_out"),
    [
        (60, 60, False),
        (3600, 2 * 3600 + 60, True),  # idle past SKIFF_SESSION_IDLE_MINUTES (120)
        (12 * 3600 + 60, 30, True),  # past SKIFF_SESSION_MAX_HOURS (12), though active
    ],
    ids=["fresh", "idle", "too-old"],
)
def test_sessions_end_when_idle_or_too_old(client, started_ago, seen_ago, signed_out):
    member = MembershipFactory()
    client.force_login(member.user)
    session = client.session
    now = int(time.time())
    session[SESSION_STARTED_KEY] = now - started_ago
    session[SESSION_SEEN_KEY] = now - seen_ago
    session.save()
    response = client.get("/team/")
    if signed_out:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        assert client.get("/api/v1/team/").status_code in (401, 403)
    else:
        assert response.status_code == 200
