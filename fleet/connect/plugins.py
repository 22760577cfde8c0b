"""The Kafka Connect plugins the platform allows (issue 19): the catalogue, as data.

Tenants create connectors only from these. Each one that is not part of Kafka itself lives in a
directory of its own under fleet/connect/plugins/<id>/ (resolved by fleet/connect/pom.xml), and
a worker's plugin.path names exactly those directories. MirrorMaker 2 comes with Kafka's Connect
runtime on the worker's classpath, with its two companions (checkpoints and heartbeats), which
the platform has installed but does not offer.

FileStream (connect-file) is neither here nor anywhere on a worker: it reads and writes any file
on the worker host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PluginKind = Literal["source", "sink"]


@dataclass(frozen=True)
class ConnectPlugin:
    id: str
    class_name: str
    kind: PluginKind
    title: str
    description: str
    # Its directory under fleet/connect/plugins/ (on plugin.path); "" = on the worker classpath.
    plugin_dir: str = ""


ALLOWED_PLUGINS: dict[str, ConnectPlugin] = {
    plugin.id: plugin
    for plugin in (
        ConnectPlugin(
            id="mirror-source",
            class_name="org.apache.kafka.connect.mirror.MirrorSourceConnector",
            kind="source",
            title="MirrorMaker 2 source",
            description=(
                "Replicates topics from another Skiff cluster or any reachable Kafka cluster "
                "into this cluster."
            ),
        ),
        ConnectPlugin(
            id="postgres-cdc",
            class_name="io.debezium.connector.postgresql.PostgresConnector",
            kind="source",
            title="Debezium PostgreSQL source (CDC)",
            description=(
                "Streams row-level changes (inserts, updates, deletes) of PostgreSQL tables "
                "into this cluster's topics, using logical decoding."
            ),
            plugin_dir="postgres-cdc",
        ),
        ConnectPlugin(
            id="jdbc-sink",
            class_name="io.debezium.connector.jdbc.JdbcSinkConnector",
            kind="sink",
            title="JDBC sink",
            description=(
                "Writes the records of this cluster's topics into tables of a relational "
                "database (PostgreSQL and others)."
            ),
            plugin_dir="jdbc-sink",
        ),
    )
}

# Installed with MirrorMaker 2 on the classpath but not offered to tenants.
INSTALLED_NOT_OFFERED: frozenset[str] = frozenset(
    {
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
        "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
    }
)


def plugin_for_class(class_name: str) -> ConnectPlugin | None:
    """The catalogue entry of a connector class (its full name), or None if not allowed."""
    return next((p for p in ALLOWED_PLUGINS.values() if p.class_name == class_name), None)


def plugin_dirs() -> list[str]:
    """The catalogue's plugin directories (what plugin.path names), in catalogue order."""
    return [p.plugin_dir for p in ALLOWED_PLUGINS.values() if p.plugin_dir]
