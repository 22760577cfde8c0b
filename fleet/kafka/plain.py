"""SASL/PLAIN credentials of access keys (issue 17): the file the brokers' PLAIN handler reads.

Kafka 4 enforces RFC 5802's SCRAM nonce check, which librdkafka before 2.6.1 fails (it builds
the client-final message with the nonce twice), so Debian's kcat and older confluent-kafka
cannot log in with SCRAM. Skiff's tenant listener also offers PLAIN (over TLS), checked by a
broker-side handler (`io.skiff.auth.SkiffPlainServerCallbackHandler`, fleet/policy/).

The platform never stores the secret: for each key it writes one line to one file per cell,
which every broker of the cell reads (local cells share the host; compose mounts the cell's
folder). The platform super-user writes it in the same call that sets the key's SCRAM
credential (fleet.kafka.platform), so creation, rotation and revocation reach both mechanisms
together. The line (v2) is that credential's salt, iterations and StoredKey (RFC 5802), made
from the same salted secret (fleet.kafka.scram.SaltedSecret): the file holds nothing the cell
does not hold already, and a key costs one slow hash, not two. Lines written before (v1) hold
their own PBKDF2-HMAC-SHA512 hash, and still verify. Writers take a lock and replace the file
atomically; readers (the brokers) only ever see a whole file.

Keys created before PLAIN existed have no line until they are rotated: their secret was shown
once and never kept.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from fleet.kafka.scram import SaltedSecret

PLAIN_CREDENTIALS_FILE = "plain-credentials"
# The broker's handler checks a v2 line as SCRAM-SHA-512 does (SkiffPlainServerCallbackHandler).
PLAIN_SCRAM_MECHANISM = "SCRAM-SHA-512"
_VERSIONS = frozenset({"v1", "v2"})
_USERNAME = re.compile(r"^[A-Za-z0-9._@=+-]{1,200}$")


def plain_credentials_path(cell_state_dir: Path) -> Path:
    return cell_state_dir / PLAIN_CREDENTIALS_FILE


def plain_line(username: str, salted: SaltedSecret) -> str:
    """The v2 line of a key whose secret is salted for its SCRAM-SHA-512 credential."""
    if not _USERNAME.match(username):
        raise ValueError(f"username {username!r} cannot be written to the PLAIN credentials")
    if salted.mechanism != PLAIN_SCRAM_MECHANISM:
        raise ValueError(f"a PLAIN line is made from a {PLAIN_SCRAM_MECHANISM} credential")
    return " ".join(
        ["v2", username, str(salted.iterations), base64.b64encode(salted.salt).decode(),
         base64.b64encode(salted.stored_key).decode()]
    )  # fmt: skip


def plain_hash_matches(line: str, secret: str) -> bool:
    """What the broker checks, in Python (for tests and the reconciler)."""
    version, _, iterations, salt, digest = line.split(" ")
    salt_bytes = base64.b64decode(salt)
    derived = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt_bytes, int(iterations))
    if version == "v2":
        derived = SaltedSecret(
            PLAIN_SCRAM_MECHANISM, int(iterations), salt_bytes, derived
        ).stored_key
    return secrets.compare_digest(derived, base64.b64decode(digest))


class PlainCredentials:
    """The PLAIN credentials file of one cell."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            lines = self._read()
            yield lines
            self._write(lines)
        finally:
            os.close(descriptor)

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        lines = {}
        for line in text.splitlines():
            fields = line.split(" ")
            if len(fields) == 5 and fields[0] in _VERSIONS:
                lines[fields[1]] = line
        return lines

    def _write(self, lines: dict[str, str]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("# Skiff: SASL/PLAIN credentials of access keys (salted hashes).\n")
            handle.writelines(line + "\n" for _, line in sorted(lines.items()))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def set_secrets(self, salted_by_user: Mapping[str, SaltedSecret]) -> None:
        """Several users' lines in one rewrite of the file (the lines made before the lock)."""
        new_lines = {u: plain_line(u, salted) for u, salted in salted_by_user.items()}
        with self._locked() as lines:
            lines.update(new_lines)

    def remove_user(self, username: str) -> bool:
        with self._locked() as lines:
            return lines.pop(username, None) is not None

    def usernames(self) -> set[str]:
        return set(self._read())

    def line(self, username: str) -> str | None:
        return self._read().get(username)

    def ensure_exists(self) -> None:
        with self._locked():
            pass
