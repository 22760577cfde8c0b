"""Topic configurations: describe (one or many) and incremental alter."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)

from fleet.kafka.connection import KafkaConnection, _admin, _await, _request_timeout, _result
from fleet.kafka.errors import UnknownTopic
from fleet.kafka.types import ConfigEntryDescription


def _describe_configs(
    conn: KafkaConnection, resource: ConfigResource, context: str
) -> dict[str, ConfigEntryDescription]:
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.describe_configs([resource], request_timeout=_request_timeout(deadline))
        _await(admin, trap, deadline, futures.values(), context)
        entries = _result(next(iter(futures.values())), context)
    out: dict[str, ConfigEntryDescription] = {}
    for name, entry in sorted(entries.items()):
        out[name] = ConfigEntryDescription(
            name=name,
            value=entry.value,
            source=_config_source_name(entry.source),
            is_default=bool(entry.is_default),
            is_read_only=bool(entry.is_read_only),
            is_sensitive=bool(entry.is_sensitive),
        )
    return out


def _config_source_name(source: Any) -> str:
    try:
        return ConfigSource(source).name
    except ValueError:
        return str(source)


def describe_topic_configs(conn: KafkaConnection, name: str) -> dict[str, ConfigEntryDescription]:
    return _describe_configs(
        conn,
        ConfigResource(ResourceType.TOPIC, name),
        f"Reading the configuration of topic '{name}'",
    )


def alter_topic_configs(
    conn: KafkaConnection, name: str, changes: Mapping[str, str | None]
) -> None:
    """Incrementally set (value) or reset to default (None) topic configs."""
    _incremental_alter_configs(
        conn, ResourceType.TOPIC, name, changes, f"Changing the configuration of topic '{name}'"
    )


def _incremental_alter_configs(
    conn: KafkaConnection,
    resource_type: ResourceType,
    name: str,
    changes: Mapping[str, str | None],
    context: str,
) -> None:
    """IncrementalAlterConfigs on one resource: SET for a value, DELETE for None."""
    entries = [
        ConfigEntry(
            key,
            value,
            incremental_operation=(
                AlterConfigOpType.DELETE if value is None else AlterConfigOpType.SET
            ),
        )
        for key, value in changes.items()
    ]
    resource = ConfigResource(resource_type, name, incremental_configs=entries)
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.incremental_alter_configs(
            [resource], request_timeout=_request_timeout(deadline)
        )
        _await(admin, trap, deadline, futures.values(), context)
        _result(next(iter(futures.values())), context)


def describe_many_topic_configs(
    conn: KafkaConnection,
    names: Sequence[str],
    keys: Sequence[str] | None = None,
    *,
    sources: Collection[str] | None = None,
) -> dict[str, dict[str, ConfigEntryDescription]]:
    """Configs of many topics in one DescribeConfigs round (``keys`` narrows what is kept, and
    ``sources`` to entries of these sources, e.g. DYNAMIC_TOPIC_CONFIG: a whole cell's topics
    have ~40 entries each, nearly all defaults).

    A topic deleted meanwhile is left out.
    """
    if not names:
        return {}
    context = "Reading topic configurations"
    wanted = set(keys) if keys is not None else None
    # The client gives a source as the enum or its int: accept either.
    kept_sources = (
        None
        if sources is None
        else {s for name in sources for s in (ConfigSource[name], ConfigSource[name].value)}
    )
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, name) for name in dict.fromkeys(names)],
            request_timeout=_request_timeout(deadline),
        )
        _await(admin, trap, deadline, futures.values(), context)
    out: dict[str, dict[str, ConfigEntryDescription]] = {}
    for resource, future in futures.items():
        try:
            entries = _result(future, context)
        except UnknownTopic:
            continue
        out[resource.name] = {
            key: ConfigEntryDescription(
                name=key,
                value=entry.value,
                source=_config_source_name(entry.source),
                is_default=bool(entry.is_default),
                is_read_only=bool(entry.is_read_only),
                is_sensitive=bool(entry.is_sensitive),
            )
            for key, entry in entries.items()
            if (wanted is None or key in wanted)
            and (kept_sources is None or entry.source in kept_sources)
        }
    return out


def describe_broker_configs(
    conn: KafkaConnection, broker_id: int
) -> dict[str, ConfigEntryDescription]:
    """One broker's configuration as it reports it (what a registration's check reads)."""
    return _describe_configs(
        conn,
        ConfigResource(ResourceType.BROKER, str(broker_id)),
        f"Reading the configuration of broker {broker_id}",
    )
