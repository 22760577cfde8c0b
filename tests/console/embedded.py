"""An installation as `make run` makes it: the embedded SQLite, no Redis, no DEBUG, a fresh
SKIFF_HOME. Helpers for tests that run `manage.py` against one in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def embedded_env(home: Path, db: Path, **extra: str) -> dict[str, str]:
    """The environment of `make run`: no DATABASE_URL or REDIS_URL, no DEBUG, no secret key
    (unless given in `extra`), SKIFF_HOME and the SQLite file where the test says."""
    env = {**os.environ, "SKIFF_HOME": str(home), "SQLITE_PATH": str(db), **extra}
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_DEBUG",
        "DJANGO_SECRET_KEY",
        "SKIFF_ENV",
        "SKIFF_TASKS_INLINE",
        "EMAIL_BACKEND",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    ):
        if name not in extra:
            env.pop(name, None)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in that environment; fails the test with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result
