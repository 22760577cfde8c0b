"""SCRAM users: create, revoke (never delete, see below), list, and a sign-in check per broker."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from fleet.kafka.connection import (
    KafkaConnection,
    _admin,
    _await,
    _base_config,
    _Deadline,
    _ErrorTrap,
    _from_exception,
    _import_kafka_python,
    _kafka_python_call,
    _request_timeout,
    _require_cluster_permission,
    _result,
    _send,
    replace_bootstrap,
)
from fleet.kafka.errors import (
    InvalidKafkaRequest,
    UnknownUser,
    _kafka_python_error_name,
    _map_error,
)
from fleet.kafka.topics import _metadata

_SCRAM_MECHANISMS = {
    "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512,
    "SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256,
}
_SCRAM_DIGESTS = {"SCRAM-SHA-512": "sha512", "SCRAM-SHA-256": "sha256"}
# The mechanisms' numbers in Kafka's protocol (ScramMechanism in AlterUserScramCredentials).
_SCRAM_WIRE_CODES = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
# Random salt per credential (Kafka's own ScramFormatter uses 32 bytes too).
SCRAM_SALT_BYTES = 32


# Kafka 4.3.1 bug, reproduced here on 1- and 3-node cells (Skiff has not found the root cause
# nor an upstream issue yet): after some sequences that include a RemoveUserScramCredential
# record (e.g. create alice, create bob, delete bob), a broker that restarts rejects *every*
# SCRAM login — tenants and the inter-broker admin alike — so the cell cannot come back. No
# failure was ever seen without a removal. So the platform revokes keys instead of deleting
# them: revoke_scram_user() overwrites the credential with a random secret nobody knows.
RANDOM_SECRET_BYTES = 48


def _scram_mechanism(mechanism: str) -> ScramMechanism:
    try:
        return _SCRAM_MECHANISMS[mechanism]
    except KeyError:
        raise InvalidKafkaRequest(f"Unsupported SCRAM mechanism {mechanism!r}.") from None


def create_scram_user(
    conn: KafkaConnection,
    username: str,
    password: str,
    iterations: int = 4096,
    *,
    mechanism: str = "SCRAM-SHA-512",
) -> None:
    """Create the user, or replace its password if it exists (upsert)."""
    create_scram_users(conn, {username: password}, iterations, mechanism=mechanism)


def create_scram_users(
    conn: KafkaConnection,
    passwords: Mapping[str, str],
    iterations: int = 4096,
    *,
    mechanism: str = "SCRAM-SHA-512",
) -> None:
    """`create_scram_user` for many users in one AlterUserScramCredentials request (creates
    provisioned together, issue 20). The first user Kafka refused fails the call, naming it."""
    if iterations < 4096:
        # Kafka rejects fewer iterations than 4096 for SCRAM-SHA-512/256.
        raise InvalidKafkaRequest(
            f"{_credentials_context(passwords)}: at least 4096 iterations are required."
        )
    _scram_mechanism(mechanism)
    upsert_salted_secrets(
        conn,
        {
            username: salt_secret(password, mechanism=mechanism, iterations=iterations)
            for username, password in passwords.items()
        },
    )


@dataclass(frozen=True)
class SaltedSecret:
    """A secret salted as SCRAM salts it (RFC 5802: SaltedPassword = PBKDF2-HMAC(secret, salt,
    iterations)), ready to be sent as a user's credential.

    Made once per secret: the credential sent to the cell and the key's PLAIN line
    (fleet.kafka.plain) both come from it, so a key costs one slow hash, not two. The
    derivation is hashlib's (OpenSSL's PBKDF2), not librdkafka's, which costs about three times
    as much CPU: 8 ms a key on this 2-core host against 2.8 ms (issue 20, 20 creates at once).
    """

    mechanism: str
    iterations: int
    salt: bytes
    salted_password: bytes = field(repr=False)

    @property
    def stored_key(self) -> bytes:
        """RFC 5802's StoredKey = H(HMAC(SaltedPassword, "Client Key")): what the cell keeps of
        the credential, with the salt and the iterations (with the ServerKey). It proves a
        secret without being one: no SCRAM or PLAIN login can be made from it."""
        digest = _SCRAM_DIGESTS[self.mechanism]
        client_key = hmac.new(self.salted_password, b"Client Key", digest).digest()
        return hashlib.new(digest, client_key).digest()


def salt_secret(
    secret: str, *, mechanism: str = "SCRAM-SHA-512", iterations: int = 4096
) -> SaltedSecret:
    salt = secrets.token_bytes(SCRAM_SALT_BYTES)
    salted = hashlib.pbkdf2_hmac(_SCRAM_DIGESTS[mechanism], secret.encode(), salt, iterations)
    return SaltedSecret(mechanism, iterations, salt, salted)


def upsert_salted_secrets(conn: KafkaConnection, salted: Mapping[str, SaltedSecret]) -> None:
    """Set these users' SCRAM credentials from secrets salted already, in one request.

    Sent by kafka-python on its warm client (as client quotas are, fleet.kafka.quotas):
    librdkafka's call takes only the plain secret and salts it itself, slowly.
    """
    if not salted:
        return
    _import_kafka_python()
    from kafka.protocol.admin import AlterUserScramCredentialsRequest

    context = _credentials_context(salted)
    request = AlterUserScramCredentialsRequest(
        deletions=[],
        upsertions=[
            (
                username,
                _SCRAM_WIRE_CODES[secret.mechanism],
                secret.iterations,
                secret.salt,
                secret.salted_password,
            )
            for username, secret in sorted(salted.items())
        ],
    )

    def call(admin: Any) -> None:
        response = _send(admin, request)
        for result in sorted(response.results, key=lambda r: r.user):
            if result.error_code:
                raise _map_error(
                    _kafka_python_error_name(result.error_code),
                    result.error_message or "",
                    f"Creating credentials for user '{result.user}'",
                )

    _kafka_python_call(conn, context, call, reuse=True)


def _credentials_context(users: Mapping[str, object]) -> str:
    if len(users) == 1:
        return f"Creating credentials for user '{next(iter(users))}'"
    return f"Creating credentials for {len(users)} users"


def revoke_scram_user(
    conn: KafkaConnection,
    username: str,
    *,
    missing_ok: bool = True,
    mechanism: str = "SCRAM-SHA-512",
) -> bool:
    """Make the user unable to log in, without removing its SCRAM credential from Kafka.

    The credential is replaced by one derived from a random secret that is thrown away, so no
    one can authenticate as this user any more; connections already open are closed at their
    next re-authentication (``connections.max.reauth.ms`` on Skiff cells). This is the safe
    way to delete an access key on Kafka 4.3.1 (see the note above ``RANDOM_SECRET_BYTES``).
    Returns False if the user had no credential (and ``missing_ok``).
    """
    context = f"Revoking credentials of user '{username}'"
    if username not in existing_scram_users(conn, [username]):
        if missing_ok:
            return False
        raise UnknownUser(f"{context}: no such user.", kafka_error="RESOURCE_NOT_FOUND")
    upsert = UserScramCredentialUpsertion(
        username,
        ScramCredentialInfo(_scram_mechanism(mechanism), 4096),
        secrets.token_bytes(RANDOM_SECRET_BYTES),
    )
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.alter_user_scram_credentials(
            [upsert], request_timeout=_request_timeout(deadline)
        )
        _await(admin, trap, deadline, futures.values(), context)
        _result(futures[username], context)
    return True


def list_scram_users(conn: KafkaConnection) -> set[str]:
    context = "Listing SCRAM users"
    with _admin(conn) as (admin, trap, deadline):
        _require_cluster_permission(admin, trap, deadline, "DESCRIBE", context)
        future = admin.describe_user_scram_credentials(request_timeout=_request_timeout(deadline))
        assert isinstance(future, concurrent.futures.Future)  # users=None -> one future
        _await(admin, trap, deadline, [future], context)
        described = _result(future, context)
    return set(described)


def existing_scram_users(conn: KafkaConnection, usernames: Iterable[str]) -> set[str]:
    """Which of these users have a SCRAM credential: one request naming only them, so its cost
    does not grow with the other users of the cell (``list_scram_users`` reads them all)."""
    wanted = sorted(set(usernames))
    if not wanted:
        return set()
    context = "Reading SCRAM users"
    found: set[str] = set()
    with _admin(conn) as (admin, trap, deadline):
        _require_cluster_permission(admin, trap, deadline, "DESCRIBE", context)
        futures = admin.describe_user_scram_credentials(
            wanted, request_timeout=_request_timeout(deadline)
        )
        assert isinstance(futures, dict)  # users named -> one future per user
        _await(admin, trap, deadline, futures.values(), context)
        for username, future in futures.items():
            try:
                future.result(timeout=0)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.RESOURCE_NOT_FOUND:
                    continue
                raise _from_exception(exc, context) from exc
            found.add(username)
    return found


def authenticate_on_broker(conn: KafkaConnection, address: str) -> None:
    """Authenticate at exactly one broker (``host:port``) and read metadata there.

    Used after a credential change: KRaft brokers apply SCRAM changes when they replay the
    metadata log, so "every broker accepts the new secret" is what makes a rotation final.
    Raises KafkaAuthenticationFailed when that broker refuses the credentials.
    """
    context = f"Signing in at broker {address}"
    trap = _ErrorTrap(timeout=conn.timeout)  # a key's credentials: no "platform" wording
    conf = _base_config(replace_bootstrap(conn, address), trap, "skiff-auth-probe")
    admin = AdminClient(conf)
    deadline = _Deadline(conn.timeout)
    try:
        _metadata(admin, trap, deadline, None, context)
        trap.raise_if_fatal(context)
    finally:
        del admin
