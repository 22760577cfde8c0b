"""Files and folders only the installation's own user may read: the embedded database, the
per-installation secret key, mail written to disk. No Django imports: settings use it too."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only; tighten it if it exists already (our own
    folder only: a sticky or foreign one is left as it is)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    stat = path.stat()
    # Never a shared folder someone pointed us into (/tmp is sticky) or another user's.
    shared = stat.st_mode & 0o1000 or stat.st_uid != os.geteuid()
    if not shared and stat.st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create `path` empty and owner-only unless it exists; tighten an existing one."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        if path.stat().st_mode & 0o777 != FILE_MODE:
            path.chmod(FILE_MODE)
    else:
        os.close(fd)
    return path


def write_private_file(path: Path, text: str) -> Path:
    """Write `text` to `path` (owner-only from the first byte, replaced atomically)."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)
    return path


def installation_secret_key(home: Path) -> str:
    """The installation's SECRET_KEY from `home`/secret-key, generated on first use.

    Two processes starting at once (the console and a management command) agree: the file is
    created exclusively, and the loser reads the winner's key.
    """
    path = home / "secret-key"
    ensure_private_dir(home)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        if path.stat().st_mode & 0o777 != FILE_MODE:
            path.chmod(FILE_MODE)
        for _ in range(50):  # a writer that created it is about to fill it
            existing = path.read_text().strip()
            if existing:
                return existing
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: remove it and start again") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
