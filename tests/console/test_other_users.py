"""Issue 15, acceptance 4: another local user (`nobody`) reads nothing of an installation:
not the database (nor its WAL), not SKIFF_HOME (secret key, first-run password), not the mail
holding an invitation link. The installation lives in a folder everyone may traverse, so only
Skiff's own modes stand between `nobody` and the files (a control file proves it)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.embedded import ROOT, embedded_env, manage

MAKE_SECRETS = """
import django
django.setup()
from django.db import transaction
from console.management.commands.run_console import Command
from console.models import Membership
from console.services.invitations import invitation_create
Command()._print_login("127.0.0.1:8000")  # first run: the admin and its password file
owner = Membership.objects.get(user__email="admin@skiff.local")
with transaction.atomic():
    created = invitation_create(
        team=owner.team, email="new@example.com", role="developer", by=owner,
        base_url="http://127.0.0.1:8000",
    )
print(created.link)
"""


def _nobody() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.fail("this test switches to the 'nobody' user: run the suite as root, as CI does")
    return pwd.getpwnam("nobody")


def _as_nobody(*argv: str) -> subprocess.CompletedProcess:
    user = _nobody()
    return subprocess.run(
        list(argv),
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": "/"},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def installation() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="skiff-install-"))
    base.chmod(0o755)  # everyone may traverse it: Skiff's own modes must do the protecting
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_another_local_user_reads_no_database_home_or_mail(installation):
    home, db = installation / "home", installation / "var" / "skiff.sqlite3"
    env = embedded_env(home, db)
    manage(env, "migrate", "--noinput", "-v0")
    result = subprocess.run(
        [sys.executable, "-c", MAKE_SECRETS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    link = result.stdout.strip().splitlines()[-1]
    token = link.rstrip("/").rsplit("/", 1)[-1]
    mails = list((home / "mail").iterdir())
    assert mails and token in mails[0].read_text()  # the link is on disk, in the mail folder
    assert token not in result.stdout.replace(link, "")  # and not in the command's output

    control = installation / "control.txt"
    control.write_text("readable\n")
    control.chmod(0o644)
    seen = _as_nobody("cat", str(control))
    assert seen.returncode == 0 and seen.stdout == "readable\n", seen.stderr  # the probe works

    secrets_on_disk = [
        db,
        *[
            p
            for p in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
            if p.exists()
        ],
        home / "secret-key",
        home / "console-admin-password",
        *mails,
    ]
    for path in secrets_on_disk:
        read = _as_nobody("cat", str(path))
        assert read.returncode != 0 and "Permission denied" in read.stderr, path
    for folder in (db.parent, home, home / "mail"):
        listed = _as_nobody("ls", str(folder))
        assert listed.returncode != 0 and "Permission denied" in listed.stderr, folder
    opened = _as_nobody(
        "python3",
        "-c",
        "import sqlite3, sys; sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)"
        ".execute('select 1').fetchall()",
        str(db),
    )
    assert opened.returncode != 0 and "unable to open database" in opened.stderr, opened.stderr
