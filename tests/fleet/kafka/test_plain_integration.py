"""SASL/PLAIN for access keys (issue 17) on the real cell: Skiff's broker-side handler checks the
key's secret against the salted hash the platform writes; rotation and revocation reach PLAIN
and SCRAM together; ACLs apply to the same principal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from clusters.services.access.keys import access_key_create, access_key_revoke, access_key_rotate
from fleet.kafka.errors import KafkaAuthenticationFailed, KafkaAuthorizationFailed
from fleet.kafka.plain import PlainCredentials, plain_credentials_path, plain_hash_matches
from fleet.kafka.platform import PlatformSuperuser
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.kafka import gateway

KCAT = shutil.which("kcat") or "/usr/bin/kcat"


def as_plain_key(cell, username: str, secret: str, *, address: str | None = None):
    return gateway.KafkaConnection(
        bootstrap=address or cell.bootstrap_servers,
        username=username,
        password=secret,
        mechanism="PLAIN",
        ca_path=cell.ca_path,
        timeout=10.0,
    )


@pytest.fixture
def member(db):
    return new_member("plain")


@pytest.fixture
def tenant(cell, member, admin_connection, django_capture_on_commit_callbacks):
    cluster, _key, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    topic = f"{cluster.wire_prefix}events"
    gateway.create_topic(admin_connection, topic, partitions=2)
    yield cluster, topic
    gateway.delete_topic(admin_connection, topic, missing_ok=True)


def _brokers(cell) -> list[str]:
    return cell.bootstrap_servers.split(",")


def test_a_key_produces_and_consumes_over_plain_and_its_hash_not_its_secret_is_on_disk(
    tenant, cell
):
    cluster, topic = tenant
    created = access_key_create(cluster=cluster, name="legacy-app")
    key, secret = created.key, created.secret

    credentials = plain_credentials_path(Path(cell.credentials_path).parent)
    text = credentials.read_text()
    assert secret not in text, "the PLAIN file must hold a hash, never the secret"
    line = next(x for x in text.splitlines() if x.split(" ")[1:2] == [key.username])
    assert plain_hash_matches(line, secret)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

    plain = as_plain_key(cell, key.username, secret)
    assert gateway.produce(plain, topic, [f"m{i}".encode() for i in range(100)]) == 100
    got = gateway.consume(plain, topic, group_id=f"{cluster.wire_prefix}g", max_messages=100)
    assert sorted(m.value for m in got) == sorted(f"m{i}".encode() for i in range(100))

    # A wrong secret is refused over PLAIN at every broker.
    for address in _brokers(cell):
        with pytest.raises(KafkaAuthenticationFailed):
            PlatformSuperuser.authenticate_as(
                as_plain_key(cell, key.username, secret + "x", address=address), address
            )


def test_a_line_written_before_v2_still_signs_in_and_a_new_line_is_the_scram_stored_key(
    tenant, cell
):
    """New lines (v2) keep the key's SCRAM-SHA-512 StoredKey, salted once for both mechanisms
    (issue 20); a v1 line, a PBKDF2 hash of its own, written before, still signs in."""
    cluster, topic = tenant
    created = access_key_create(cluster=cluster, name="older-app")
    username, secret = created.key.username, created.secret
    plain = PlainCredentials(plain_credentials_path(Path(cell.credentials_path).parent))

    version, _user, iterations, salt, stored_key = plain.line(username).split(" ")
    salted = hashlib.pbkdf2_hmac("sha512", secret.encode(), base64.b64decode(salt), 4096)
    client_key = hmac.new(salted, b"Client Key", "sha512").digest()
    assert (version, iterations) == ("v2", "4096")
    assert base64.b64decode(stored_key) == hashlib.sha512(client_key).digest()

    v1_salt = b"0123456789abcdef"
    v1_hash = hashlib.pbkdf2_hmac("sha512", secret.encode(), v1_salt, 10_000)
    v1_line = " ".join(
        ["v1", username, "10000", base64.b64encode(v1_salt).decode(),
         base64.b64encode(v1_hash).decode()]
    )  # fmt: skip
    with plain._locked() as lines:
        lines[username] = v1_line
    assert plain_hash_matches(v1_line, secret) and not plain_hash_matches(v1_line, secret + "x")
    for address in _brokers(cell):
        PlatformSuperuser.authenticate_as(
            as_plain_key(cell, username, secret, address=address), address
        )
        with pytest.raises(KafkaAuthenticationFailed):
            PlatformSuperuser.authenticate_as(
                as_plain_key(cell, username, secret + "x", address=address), address
            )
    assert gateway.produce(as_plain_key(cell, username, secret), topic, [b"v1"]) == 1


def test_another_clusters_key_over_plain_is_refused_by_the_acls(
    tenant, cell, django_capture_on_commit_callbacks
):
    _cluster, topic = tenant
    other_member = new_member("plain-other")
    other, _key, _secret = active_cluster(
        other_member, django_capture_on_commit_callbacks, name="other"
    )
    intruder = access_key_create(cluster=other, name="intruder", policy_template="admin")
    plain = as_plain_key(cell, intruder.key.username, intruder.secret)
    with pytest.raises(KafkaAuthorizationFailed):
        gateway.produce(plain, topic, [b"not yours"])


def test_rotation_and_revocation_reach_plain_and_scram_on_every_broker(tenant, cell):
    cluster, _topic = tenant
    created = access_key_create(cluster=cluster, name="rotating")
    username, old = created.key.username, created.secret

    rotated = access_key_rotate(key=created.key)
    # access_key_rotate returns once every broker accepts the new SCRAM secret; PLAIN reads
    # the file the same call rewrote, so the old secret must already fail everywhere.
    for address in _brokers(cell):
        for mechanism_key in (
            as_plain_key(cell, username, old, address=address),
            as_key(cell, username, old),
        ):
            with pytest.raises(KafkaAuthenticationFailed):
                PlatformSuperuser.authenticate_as(mechanism_key, address)
        PlatformSuperuser.authenticate_as(
            as_plain_key(cell, username, rotated.secret, address=address), address
        )

    access_key_revoke(key=rotated.key)
    for address in _brokers(cell):
        with pytest.raises(KafkaAuthenticationFailed):
            PlatformSuperuser.authenticate_as(
                as_plain_key(cell, username, rotated.secret, address=address), address
            )


def test_debians_kcat_connects_with_plain_where_its_scram_fails(tenant, cell, tmp_path):
    """Debian 12's kcat links librdkafka 2.0.2, whose SCRAM Kafka 4 refuses (the nonce check):
    the reason PLAIN exists. With PLAIN it produces and consumes unmodified."""
    assert Path(KCAT).exists(), "kcat is installed by scripts/install-test-deps.sh"
    cluster, topic = tenant
    created = access_key_create(cluster=cluster, name="kcat")
    common = [
        "-b", cell.bootstrap_servers,
        "-X", "security.protocol=SASL_SSL",
        "-X", "sasl.mechanisms=PLAIN",
        "-X", f"sasl.username={created.key.username}",
        "-X", f"sasl.password={created.secret}",
        "-X", f"ssl.ca.location={cell.ca_path}",
    ]  # fmt: skip
    lines = "".join(f"kcat-{i}\n" for i in range(100))
    produced = subprocess.run(
        [KCAT, *common, "-P", "-t", topic], input=lines, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(
        [KCAT, *common, "-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.split()) == sorted(f"kcat-{i}" for i in range(100))
