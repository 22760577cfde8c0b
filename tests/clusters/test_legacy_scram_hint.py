"""Issue 17: an old librdkafka failing SCRAM with a key is named on that key's page.

Debian's kcat (librdkafka 2.0.2) signs in with SCRAM-SHA-512 and a right key on a real cell.
Kafka 4 refuses it ("invalid credentials": the client-final message carries the nonce twice);
the broker's watch (io.skiff.auth.LegacyScramWatch) records the key username and the KIP-511
client version, the periodic scan copies it, and the key's page says why and what to change.
A current client with the same key still signs in over SCRAM through the watch, and is not
recorded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from clusters.services.access.keys import access_key_create
from fleet.models import LegacyScramFailure
from fleet.services.legacy_clients import legacy_scram_scan
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.kafka import gateway

SCAN_TIMEOUT = 90.0
KCAT_TIMEOUT = 60.0


def debian_kcat() -> tuple[str, str]:
    """kcat's path and its librdkafka version; skips (with the reason) only without it."""
    kcat = shutil.which("kcat")
    if kcat is None:
        # Under CI a missing kcat is a broken install (scripts/install-test-deps.sh installs it).
        missing = "Debian's kcat is not installed: scripts/install-test-deps.sh installs it"
        if os.environ.get("CI"):
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    out = subprocess.run([kcat, "-V"], capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"librdkafka (?:version )?([0-9]+(?:\.[0-9]+)+)", out.stdout + out.stderr)
    assert found, f"kcat -V did not name its librdkafka: {out.stdout}{out.stderr}"
    version = found.group(1)
    parts = tuple(int(p) for p in version.split(".")[:3])
    if parts >= (2, 6, 1):
        pytest.skip(f"this kcat links librdkafka {version}, whose SCRAM Kafka 4 accepts")
    return kcat, version


def kcat_scram_metadata(kcat: str, cell, username: str, secret: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            kcat,
            "-b",
            cell.bootstrap_servers,
            "-X",
            "security.protocol=SASL_SSL",
            "-X",
            "sasl.mechanisms=SCRAM-SHA-512",
            "-X",
            f"sasl.username={username}",
            "-X",
            f"sasl.password={secret}",
            "-X",
            f"ssl.ca.location={Path(cell.ca_path)}",
            "-L",
            "-m",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=KCAT_TIMEOUT,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_old_librdkafka_failing_scram_is_named_on_the_key_page(
    cell, client, django_capture_on_commit_callbacks
):
    kcat, version = debian_kcat()
    member = new_member("legacy")
    cluster, _initial, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        created = access_key_create(cluster=cluster, name="old-client", policy_template="admin")
    key, secret = created.key, created.secret

    # A current client signs in with the key over SCRAM through the broker's watch.
    deadline = time.monotonic() + 60
    while True:
        try:
            gateway.describe_cluster(as_key(cell, key.username, secret))
            break
        except Exception as exc:  # the key's SCRAM credential reaching every broker
            if time.monotonic() > deadline:
                raise AssertionError(f"a current client could not sign in: {exc}") from exc
            time.sleep(0.5)

    refused = kcat_scram_metadata(kcat, cell, key.username, secret)
    assert refused.returncode != 0, refused.stdout
    assert "invalid credentials" in refused.stderr, refused.stderr[-2000:]

    deadline = time.monotonic() + SCAN_TIMEOUT
    record = None
    while record is None:
        legacy_scram_scan(timeout=5.0)
        record = LegacyScramFailure.objects.filter(cell=cell, username=key.username).first()
        if record is None and time.monotonic() > deadline:
            raise AssertionError(
                f"no broker published the failed SCRAM login of {key.username} within "
                f"{SCAN_TIMEOUT:.0f} s (skiff_legacy_scram_* on the metrics endpoints)"
            )
        if record is None:
            time.sleep(1.0)
    assert record.client_versions == version
    assert record.failures >= 1
    # Only the old client is recorded: the successful current client is not.
    assert not LegacyScramFailure.objects.filter(username=_initial.username).exists()

    client.force_login(member.user)
    page = client.get(f"/clusters/{cluster.pk}/access/keys/{key.pk}/")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.content.decode()))
    assert f"a client using librdkafka {version} failed SCRAM-SHA-512 with this key" in text
    assert "librdkafka before 2.6.1 sends the SCRAM nonce twice" in text
    assert "Upgrade the client to librdkafka 2.6.1 or newer" in text
    assert "sasl.mechanisms=PLAIN" in text  # the session's cell is local: it offers PLAIN
    assert cluster.bootstrap_servers in text

    # Another key of the cluster has no hint.
    other = client.get(f"/clusters/{cluster.pk}/access/keys/{_initial.pk}/")
    assert b"cannot sign in with this key over SCRAM" not in other.content
