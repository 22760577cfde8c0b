"""Issue 19, fleet side: a Connect worker whose JVM is SIGKILLed is started again by the
supervisor, and its connector (a MirrorMaker 2 source copying a topic of the cluster into the
same cluster) is RUNNING again and goes on replicating from its committed offsets.

The supervisor runs as a thread, so the database is shared (transactional_db)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fleet.models import ConnectWorker
from fleet.services.connect_workers import (
    connect_client,
    ensure_connect_worker,
    restart_crashed_connect_workers,
    stop_connect_worker,
    write_connector_secrets,
)
from fleet.services.supervisor import SupervisorThread
from tests.clusters.access_helpers import active_cluster, as_key, new_member
from tests.fleet.connect.helpers import connector_running, kill_worker, wait_for, worker_pid
from tests.fleet.kafka import gateway

pytestmark = pytest.mark.kafka

RESTART_WITHIN = 180.0  # a worker start on a loaded 2-core host (see docs/fleet.md)
BEFORE, AFTER = 50, 30


@pytest.fixture
def connect_home(tmp_path, settings):
    settings.SKIFF_CONNECT_HOME = Path(os.environ.get("SKIFF_TEST_CONNECT_HOME") or tmp_path)
    return settings.SKIFF_CONNECT_HOME


def mirror_config(cell, prefix: str, username: str, placeholders: dict[str, str]) -> dict:
    """A MirrorMaker 2 source from `<prefix>src` of this cluster into this cluster, as the
    platform writes it: both sides with the worker's key (password from the secrets files),
    remote topic `<prefix>` + `<prefix>src` (alias = the prefix without its dot), nothing that
    needs rights outside the prefix (no ACL sync, no offset-syncs topic, no config sync)."""
    alias = prefix.rstrip(".")
    client = {
        "bootstrap.servers": cell.bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": placeholders["jaas"],
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": cell.ca_path,
    }
    return {
        "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "tasks.max": "1",
        "source.cluster.alias": alias,
        "target.cluster.alias": "target",
        **{f"source.cluster.{k}": v for k, v in client.items()},
        **{f"target.cluster.{k}": v for k, v in client.items()},
        "topics": f"{prefix}src".replace(".", "\\."),
        "replication.factor": "-1",
        "sync.topic.acls.enabled": "false",
        "sync.topic.configs.enabled": "false",
        "emit.offset-syncs.enabled": "false",
        "emit.heartbeats.enabled": "false",
        "emit.checkpoints.enabled": "false",
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    }


def copied(tenant, topic: str) -> int:
    """Records in `topic` (sum of partition end offsets), 0 while it does not exist."""
    topics = gateway.list_topics(tenant)
    if topic not in topics:
        return 0
    keys = [(topic, p.id) for p in topics[topic].partitions]
    return sum(o.end for o in gateway.list_partition_offsets(tenant, keys).values())


def committed_offset(client, name: str) -> int | None:
    """The source offset MirrorMaker committed for partition 0 (the last record it copied)."""
    offsets = client.offsets(name)
    return offsets[0]["offset"]["offset"] if offsets else None


def test_a_killed_worker_is_restarted_and_its_connector_runs_again(
    transactional_db, cell, connect_home, django_capture_on_commit_callbacks
):
    cluster, key, secret = active_cluster(
        new_member("cs"), django_capture_on_commit_callbacks, name="mirror"
    )
    prefix = cluster.wire_prefix
    tenant = as_key(cell, key.username, secret)
    source, remote = f"{prefix}src", f"{prefix}{prefix}src"
    gateway.create_topic(tenant, source, partitions=1)
    gateway.produce(tenant, source, [f"before-{i}".encode() for i in range(BEFORE)])

    ensure_connect_worker(cell=cell, tenant_prefix=prefix, username=key.username, password=secret)
    supervisor = SupervisorThread(
        cells=lambda: [], interval=1.0, connect_workers=restart_crashed_connect_workers
    )
    try:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{key.username}" password="{secret}";'
        )
        placeholders = write_connector_secrets(
            tenant_prefix=prefix, connector_name="mirror", secrets={"jaas": jaas}
        )
        client = connect_client(tenant_prefix=prefix)
        client.create("mirror", mirror_config(cell, prefix, key.username, placeholders))
        wait_for(
            lambda: connector_running(client, "mirror"),
            timeout=90,
            message="the mirror connector is not RUNNING",
        )
        wait_for(
            lambda: copied(tenant, remote) >= BEFORE,
            timeout=120,
            message=f"{BEFORE} records were not copied to {remote}",
        )

        # Until the worker has committed the source offset of the last record copied: what
        # it resumes from. Then nothing may be lost or copied twice.
        wait_for(
            lambda: committed_offset(client, "mirror") == BEFORE - 1,
            timeout=60,
            message="the mirror connector did not commit its source offsets",
        )

        supervisor.start()
        killed = kill_worker(prefix)
        killed_at = time.monotonic()
        gateway.produce(tenant, source, [f"after-{i}".encode() for i in range(AFTER)])

        wait_for(
            lambda: ConnectWorker.objects.filter(
                tenant_prefix=prefix, state=ConnectWorker.State.RUNNING, restarts=1
            ).exists(),
            timeout=RESTART_WITHIN,
            message="the supervisor did not restart the killed worker",
        )
        took = time.monotonic() - killed_at
        assert worker_pid(prefix) != killed
        client = connect_client(tenant_prefix=prefix)  # the REST port may have changed
        wait_for(
            lambda: connector_running(client, "mirror"),
            timeout=90,
            message="the mirror connector is not RUNNING after the restart",
        )
        total = wait_for(
            lambda: (n := copied(tenant, remote)) >= BEFORE + AFTER and n,
            timeout=120,
            message=f"the {AFTER} records produced while the worker was down were not copied",
        )
        worker = ConnectWorker.objects.get(tenant_prefix=prefix)
        print(
            f"worker back in {took:.1f}s after SIGKILL; copied {total} records for "
            f"{BEFORE + AFTER} produced; "
            f"RSS {worker.last_rss_bytes / 2**20:.0f} MiB"
        )
        assert total == BEFORE + AFTER
    finally:
        if supervisor.is_alive():
            supervisor.stop()
        stop_connect_worker(tenant_prefix=prefix)
