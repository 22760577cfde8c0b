"""Issue 19, fleet side: a tenant cluster's Connect worker on the session's real cell.

The worker authenticates with a real platform-made key of a tenant cluster (an ACTIVE cluster's
admin key), answers REST on loopback only, keeps its internal topics and group inside the
cluster's prefix, has exactly the catalogue's plugins (no FileStream), and refuses connector
configs that override anything but the consumer's group id.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fleet.connect.client import ConnectorRejected
from fleet.connect.plugins import ALLOWED_PLUGINS, INSTALLED_NOT_OFFERED
from fleet.models import ConnectWorker
from fleet.services.connect_workers import (
    connect_client,
    ensure_connect_worker,
    stop_connect_worker,
    write_connector_secrets,
)
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.connect.helpers import wait_for, worker_pid
from tests.fleet.kafka import gateway

pytestmark = pytest.mark.kafka


@pytest.fixture
def connect_home(tmp_path, settings):
    """Workers' files in the test's temp dir (SKIFF_TEST_CONNECT_HOME keeps them elsewhere)."""
    settings.SKIFF_CONNECT_HOME = Path(os.environ.get("SKIFF_TEST_CONNECT_HOME") or tmp_path)
    return settings.SKIFF_CONNECT_HOME


# 127.0.0.1 as /proc/net/tcp prints it, and as ::ffff:127.0.0.1 in /proc/net/tcp6 (the JVM
# listens on an IPv6 socket bound to the IPv4-mapped loopback address).
LOOPBACK_V4 = ["0100007F"]
LOOPBACK_V4_MAPPED = ["0000000000000000FFFF00000100007F"]


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system): a start's cost apart from the host's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} print them) listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.append(address)
    return found


def test_worker_for_a_tenant_prefix(cell, connect_home, django_capture_on_commit_callbacks):
    cluster, key, secret = active_cluster(
        new_member("cw"), django_capture_on_commit_callbacks, name="connect"
    )
    prefix = cluster.wire_prefix
    started = time.monotonic()
    worker = ensure_connect_worker(
        cell=cell, tenant_prefix=prefix, username=key.username, password=secret
    )
    took = time.monotonic() - started
    try:
        assert worker.state == ConnectWorker.State.RUNNING
        assert worker.pid == worker_pid(prefix)
        print(
            f"worker ready in {took:.1f}s ({cpu_seconds(worker.pid):.1f} s of CPU, load average "
            f"{os.getloadavg()[0]:.0f}), RSS {worker.last_rss_bytes / 2**20:.0f} MiB"
        )

        # Idempotent: a second call finds the same JVM.
        again = ensure_connect_worker(
            cell=cell, tenant_prefix=prefix, username=key.username, password=secret
        )
        assert (again.pk, again.pid, again.rest_port) == (worker.pk, worker.pid, worker.rest_port)

        # REST on loopback only: 127.0.0.1, never a wildcard address.
        assert _listeners(worker.rest_port) in (LOOPBACK_V4, LOOPBACK_V4_MAPPED)

        # The group and internal topics are inside the cluster's prefix.
        client = connect_client(tenant_prefix=prefix)
        assert client.connectors() == []
        tenant = as_key(cell, key.username, secret)
        internal = {f"{prefix}connect-{kind}" for kind in ("configs", "offsets", "status")}
        # Created by the worker through one broker; the others learn of them a moment later.
        topics = wait_for(
            lambda: (t := gateway.list_topics(tenant)).keys() >= internal and t,
            timeout=30,
            message=f"the worker's internal topics {sorted(internal)} are not all listed",
        )
        assert not [t for t in topics if "connect" in t and not t.startswith(prefix)]
        # The worker's group exists, with the tenant key allowed to see it. Its protocol is
        # "connect", which consumer-group listings leave out and describing names in its refusal.
        with pytest.raises(gateway.KafkaGatewayError, match=r"not a consumer group \(connect\)"):
            gateway.describe_consumer_groups(tenant, [f"{prefix}connect"])

        # Exactly the catalogue (plus MirrorMaker's two companions), no FileStream.
        installed = {p["class"] for p in client.plugins()}
        catalogue = {p.class_name for p in ALLOWED_PLUGINS.values()}
        assert installed == catalogue | INSTALLED_NOT_OFFERED
        assert not [c for c in installed if "FileStream" in c]

        # The override policy: only group.id. A connector may not swap the worker's key.
        placeholders = write_connector_secrets(
            tenant_prefix=prefix, connector_name="sink", secrets={"password": "x"}
        )
        sink = ALLOWED_PLUGINS["jdbc-sink"].class_name
        base = {
            "name": "sink",
            "topics": f"{prefix}orders",
            "connection.url": "jdbc:postgresql://127.0.0.1:1/none",
            "connection.username": "nobody",
            "connection.password": placeholders["password"],
        }
        refused = client.validate(sink, {**base, "consumer.override.sasl.jaas.config": "x"})
        assert refused["error_count"] >= 1
        messages = " ".join(m for c in refused["configs"] for m in c["value"]["errors"])
        assert "policy does not allow 'sasl.jaas.config' to be overridden" in messages
        with pytest.raises(ConnectorRejected) as excinfo:
            client.create(
                "sink",
                {**base, "connector.class": sink, "consumer.override.sasl.jaas.config": "x"},
            )
        assert excinfo.value.status == 400
        assert client.connectors() == []
        allowed = client.validate(
            sink, {**base, "consumer.override.group.id": f"{prefix}connect-sink"}
        )
        override_errors = [
            m
            for c in allowed["configs"]
            if c["value"]["name"].startswith("consumer.override")
            for m in c["value"]["errors"]
        ]
        assert override_errors == []
    finally:
        stop_connect_worker(tenant_prefix=prefix)
    assert ConnectWorker.objects.get(tenant_prefix=prefix).state == ConnectWorker.State.STOPPED
    assert not _listeners(worker.rest_port)
