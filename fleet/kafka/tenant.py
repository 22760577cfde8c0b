"""The tenant-scoped gateway: what every tenant-facing service gets instead of a connection.

`ClusterGateway(cluster)` speaks short names only. Every name it sends passes through one
function, `wire_name`, which adds the cluster's prefix and refuses anything that could address
something else; every name that comes back from the broker outside the prefix is dropped. So a
forgotten filter in a service cannot hand a tenant another tenant's topic or group: the service
never sees a wire name, and cannot form one.

The facade talks to the broker through a `transport` (by default the gateway modules themselves,
with the cell's super-user connection kept private here). Tests pass a recording transport to
prove that no request leaves the prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from fleet.kafka import acls, configs, groups, logdirs, records, topics
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.errors import InvalidKafkaRequest
from fleet.kafka.platform import cell_connection
from fleet.kafka.types import (
    AclBinding,
    ConfigEntryDescription,
    ConsumedMessage,
    GroupDescription,
    MessageInput,
    PartitionOffsets,
    ProducedRecord,
    TopicDescription,
    TopicPartitionKey,
)

if TYPE_CHECKING:
    from fleet.models import Cell

# Kafka's own limit on a topic's wire name (its log directory name must fit 255 bytes).
KAFKA_MAX_NAME = 249
# The short form of a PREFIXED binding on the cluster's prefix itself (every resource of the
# cluster). `wire_name` refuses "*", so it can never be mistaken for a name.
WHOLE_CLUSTER = "*"
_LEGAL_TOPIC = re.compile(r"^[A-Za-z0-9._-]+$")


class TenantCluster(Protocol):
    """What the facade needs of a cluster (the clusters app's model has both)."""

    @property
    def wire_prefix(self) -> str: ...

    @property
    def cell(self) -> Cell | None: ...


class NameOutsideCluster(InvalidKafkaRequest):
    """A short name that would not address a resource of this cluster."""

    code = "name_outside_cluster"


class Transport(Protocol):
    """The raw gateway calls the facade makes (fleet.kafka's modules; a recorder in tests)."""

    def __getattr__(self, name: str) -> Any: ...


class _ModulesTransport:
    """The real transport: the gateway's own modules, called with the cell's connection."""

    list_topics = staticmethod(topics.list_topics)
    create_topic = staticmethod(topics.create_topic)
    delete_topic = staticmethod(topics.delete_topic)
    create_partitions = staticmethod(topics.create_partitions)
    list_partition_offsets = staticmethod(topics.list_partition_offsets)
    offsets_for_timestamp = staticmethod(topics.offsets_for_timestamp)
    delete_records = staticmethod(topics.delete_records)
    describe_topic_configs = staticmethod(configs.describe_topic_configs)
    describe_many_topic_configs = staticmethod(configs.describe_many_topic_configs)
    alter_topic_configs = staticmethod(configs.alter_topic_configs)
    describe_log_dirs = staticmethod(logdirs.describe_log_dirs)
    list_consumer_groups = staticmethod(groups.list_consumer_groups)
    describe_consumer_groups = staticmethod(groups.describe_consumer_groups)
    list_consumer_group_offsets = staticmethod(groups.list_consumer_group_offsets)
    alter_consumer_group_offsets = staticmethod(groups.alter_consumer_group_offsets)
    delete_consumer_groups = staticmethod(groups.delete_consumer_groups)
    describe_acls = staticmethod(acls.describe_acls)
    produce = staticmethod(records.produce)
    fetch_messages = staticmethod(records.fetch_messages)


MODULES_TRANSPORT = _ModulesTransport()


class ClusterGateway:
    """One cluster's view of its cell: short names in, short names out, nothing else."""

    def __init__(
        self,
        cluster: TenantCluster,
        *,
        transport: Transport | None = None,
        connection: KafkaConnection | None = None,
    ) -> None:
        prefix = cluster.wire_prefix
        if not prefix or not prefix.endswith("."):
            raise NameOutsideCluster("This cluster has no namespace on a cell yet.")
        self.prefix = prefix
        self._cluster = cluster
        # The real transport keeps its modules' signatures; a test's recorder is any Transport.
        self._transport: Transport | _ModulesTransport = transport or MODULES_TRANSPORT
        self._connection = connection

    @property
    def _conn(self) -> KafkaConnection:
        # Read lazily: building a facade (e.g. for a page that is served from a cache) must not
        # touch the credentials file.
        if self._connection is None:
            cell = self._cluster.cell
            if cell is None:
                raise NameOutsideCluster("This cluster is not placed on a cell yet.")
            self._connection = cell_connection(cell)
        return self._connection

    @property
    def timeout(self) -> float:
        return self._conn.timeout

    # -- names ---------------------------------------------------------------------------------

    def wire_name(self, name: str) -> str:
        """The one place a short name becomes a wire name. Raises for anything else."""
        if not isinstance(name, str) or not name:
            raise NameOutsideCluster("A name is required.")
        if name in {".", ".."} or "*" in name or any(ord(c) < 0x20 for c in name):
            raise NameOutsideCluster(f"'{name}' is not a name this cluster can use.")
        wire = f"{self.prefix}{name}"
        if len(wire) > KAFKA_MAX_NAME:
            raise NameOutsideCluster(
                f"'{name}' is too long: the wire name '{self.prefix}…' must fit Kafka's "
                f"{KAFKA_MAX_NAME} characters."
            )
        return wire

    def wire_topic_name(self, name: str) -> str:
        """A topic's wire name: also within Kafka's legal characters, so a bad name fails here
        with a sentence instead of at the broker."""
        wire = self.wire_name(name)
        if not _LEGAL_TOPIC.match(name):
            raise NameOutsideCluster(
                f"'{name}' is not a valid topic name: use letters, digits, '.', '_' and '-'."
            )
        return wire

    def short_name(self, wire: str) -> str | None:
        """The short name of a wire name of this cluster; None for anything else (dropped)."""
        if isinstance(wire, str) and wire.startswith(self.prefix) and len(wire) > len(self.prefix):
            return wire[len(self.prefix) :]
        return None

    def _wire_partitions(self, partitions: Iterable[TopicPartitionKey]) -> list[TopicPartitionKey]:
        return [(self.wire_topic_name(topic), int(partition)) for topic, partition in partitions]

    def _short_keyed(
        self, by_wire: Mapping[TopicPartitionKey, Any]
    ) -> dict[TopicPartitionKey, Any]:
        out: dict[TopicPartitionKey, Any] = {}
        for (topic, partition), value in by_wire.items():
            short = self.short_name(topic)
            if short is not None:
                out[(short, partition)] = value
        return out

    def _short_topic(self, described: TopicDescription) -> TopicDescription | None:
        short = self.short_name(described.name)
        return None if short is None else replace(described, name=short)

    # -- topics --------------------------------------------------------------------------------

    def list_topics(self) -> dict[str, TopicDescription]:
        return self.scope_topics(self._transport.list_topics(self._conn))

    def scope_topics(self, listing: Mapping[str, TopicDescription]) -> dict[str, TopicDescription]:
        """This cluster's topics out of a whole cell's listing (the periodic sync reads a cell
        once for all its clusters), with short names; everything else is dropped."""
        out: dict[str, TopicDescription] = {}
        for described in listing.values():
            short = self._short_topic(described)
            if short is not None:
                out[short.name] = short
        return out

    def create_topic(
        self,
        name: str,
        *,
        partitions: int,
        replication_factor: int | None = None,
        configs: Mapping[str, str] | None = None,
    ) -> None:
        self._transport.create_topic(
            self._conn,
            self.wire_topic_name(name),
            partitions=partitions,
            replication_factor=replication_factor,
            configs=configs,
        )

    def delete_topic(self, name: str, *, missing_ok: bool = False) -> bool:
        return bool(
            self._transport.delete_topic(
                self._conn, self.wire_topic_name(name), missing_ok=missing_ok
            )
        )

    def create_partitions(self, name: str, *, total: int) -> None:
        self._transport.create_partitions(self._conn, self.wire_topic_name(name), total=total)

    def list_partition_offsets(
        self, partitions: Iterable[TopicPartitionKey]
    ) -> dict[TopicPartitionKey, PartitionOffsets]:
        wire = self._wire_partitions(partitions)
        if not wire:
            return {}
        return self._short_keyed(self._transport.list_partition_offsets(self._conn, wire))

    def offsets_for_timestamp(
        self, partitions: Iterable[TopicPartitionKey], timestamp_ms: int
    ) -> dict[TopicPartitionKey, int]:
        wire = self._wire_partitions(partitions)
        if not wire:
            return {}
        return self._short_keyed(
            self._transport.offsets_for_timestamp(self._conn, wire, timestamp_ms)
        )

    def delete_records(
        self, before: Mapping[TopicPartitionKey, int]
    ) -> dict[TopicPartitionKey, int]:
        wire = {
            (self.wire_topic_name(topic), int(partition)): offset
            for (topic, partition), offset in before.items()
        }
        return self._short_keyed(self._transport.delete_records(self._conn, wire))

    def describe_log_dirs(
        self, partitions: Mapping[str, Sequence[int]]
    ) -> dict[TopicPartitionKey, dict[int, int]]:
        wire = {self.wire_topic_name(topic): list(parts) for topic, parts in partitions.items()}
        if not wire:
            return {}
        return self._short_keyed(self._transport.describe_log_dirs(self._conn, wire))

    # -- configs -------------------------------------------------------------------------------

    def describe_topic_configs(self, name: str) -> dict[str, ConfigEntryDescription]:
        return dict(self._transport.describe_topic_configs(self._conn, self.wire_topic_name(name)))

    def describe_many_topic_configs(
        self, names: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, ConfigEntryDescription]]:
        wire = [self.wire_topic_name(name) for name in names]
        if not wire:
            return {}
        out: dict[str, dict[str, ConfigEntryDescription]] = {}
        for topic, entries in self._transport.describe_many_topic_configs(
            self._conn, wire, keys
        ).items():
            short = self.short_name(topic)
            if short is not None:
                out[short] = entries
        return out

    def scope_topic_configs(
        self, by_wire: Mapping[str, dict[str, ConfigEntryDescription]]
    ) -> dict[str, dict[str, ConfigEntryDescription]]:
        """This cluster's topic configs out of a whole cell's (the periodic sync reads them
        once for all its clusters), with short names; everything else is dropped."""
        out: dict[str, dict[str, ConfigEntryDescription]] = {}
        for wire, entries in by_wire.items():
            short = self.short_name(wire)
            if short is not None:
                out[short] = entries
        return out

    def alter_topic_configs(self, name: str, changes: Mapping[str, str | None]) -> None:
        self._transport.alter_topic_configs(self._conn, self.wire_topic_name(name), changes)

    # -- consumer groups -----------------------------------------------------------------------

    def list_consumer_groups(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for group_id, state in self._transport.list_consumer_groups(self._conn).items():
            short = self.short_name(group_id)
            if short is not None:
                out[short] = state
        return out

    def _short_group(self, described: GroupDescription) -> GroupDescription | None:
        short = self.short_name(described.group_id)
        if short is None:
            return None
        members = tuple(
            replace(
                member,
                assignment=tuple(
                    (topic, partition)
                    for topic, partition in ((self.short_name(t), p) for t, p in member.assignment)
                    if topic is not None
                ),
            )
            for member in described.members
        )
        return replace(described, group_id=short, members=members)

    def describe_consumer_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription]:
        wire = [self.wire_name(group_id) for group_id in group_ids]
        if not wire:
            return {}
        out: dict[str, GroupDescription] = {}
        for described in self._transport.describe_consumer_groups(self._conn, wire).values():
            short = self._short_group(described)
            if short is not None:
                out[short.group_id] = short
        return out

    def list_consumer_group_offsets(
        self, group_ids: Sequence[str]
    ) -> dict[str, dict[TopicPartitionKey, int]]:
        wire = [self.wire_name(group_id) for group_id in group_ids]
        if not wire:
            return {}
        out: dict[str, dict[TopicPartitionKey, int]] = {}
        for group_id, offsets in self._transport.list_consumer_group_offsets(
            self._conn, wire
        ).items():
            short = self.short_name(group_id)
            if short is not None:
                out[short] = self._short_keyed(offsets)
        return out

    def alter_consumer_group_offsets(
        self, group_id: str, offsets: Mapping[TopicPartitionKey, int]
    ) -> None:
        wire = {
            (self.wire_topic_name(topic), int(partition)): offset
            for (topic, partition), offset in offsets.items()
        }
        self._transport.alter_consumer_group_offsets(self._conn, self.wire_name(group_id), wire)

    def delete_consumer_groups(self, group_ids: Sequence[str]) -> None:
        wire = [self.wire_name(group_id) for group_id in group_ids]
        if wire:
            self._transport.delete_consumer_groups(self._conn, wire)

    # -- records -------------------------------------------------------------------------------

    def produce(
        self, topic: str, messages: Sequence[MessageInput], *, partition: int | None = None
    ) -> list[ProducedRecord]:
        produced = self._transport.produce(
            self._conn, self.wire_topic_name(topic), messages, partition=partition
        )
        return [replace(record, topic=topic) for record in produced]

    def fetch_messages(
        self,
        ranges: Mapping[TopicPartitionKey, tuple[int, int]],
        *,
        max_messages: int = 100,
        max_bytes: int = 4 * 1024 * 1024,
    ) -> list[ConsumedMessage]:
        wire = {
            (self.wire_topic_name(topic), int(partition)): bounds
            for (topic, partition), bounds in ranges.items()
        }
        fetched = self._transport.fetch_messages(
            self._conn, wire, max_messages=max_messages, max_bytes=max_bytes
        )
        out: list[ConsumedMessage] = []
        for message in fetched:
            short = self.short_name(message.topic)
            if short is not None:
                out.append(replace(message, topic=short))
        return out

    # -- access --------------------------------------------------------------------------------

    def _own_principal(self, principal: str) -> bool:
        # Keys' SCRAM user names start with the cluster's prefix (clusters' access_key_username).
        return principal.startswith(f"User:{self.prefix}")

    def short_binding(self, binding: AclBinding) -> AclBinding | None:
        """A binding with its resource's short name (WHOLE_CLUSTER for the prefix itself)."""
        if not self._own_principal(binding.principal):
            return None
        if binding.resource_type == "CLUSTER":
            return binding
        if binding.pattern_type == "PREFIXED" and binding.resource_name == self.prefix:
            return replace(binding, resource_name=WHOLE_CLUSTER)
        short = self.short_name(binding.resource_name)
        return None if short is None else replace(binding, resource_name=short)

    def wire_binding(self, binding: AclBinding) -> AclBinding:
        """The binding as it is on the cell (the inverse of short_binding)."""
        if not self._own_principal(binding.principal):
            raise NameOutsideCluster("That principal is not a key of this cluster.")
        if binding.resource_type == "CLUSTER":
            return binding
        if binding.pattern_type == "PREFIXED" and binding.resource_name == WHOLE_CLUSTER:
            return replace(binding, resource_name=self.prefix)
        return replace(binding, resource_name=self.wire_name(binding.resource_name))

    def describe_acls(self, principal: str | None = None) -> list[AclBinding]:
        """The bindings of this cluster's keys (or of one of them), with short resource names.

        Bindings of other principals, and any on a resource outside the prefix, are dropped:
        the platform never writes one, and a listing must not show one either.
        """
        if principal is not None and not self._own_principal(principal):
            raise NameOutsideCluster("That principal is not a key of this cluster.")
        out: list[AclBinding] = []
        for binding in self._transport.describe_acls(self._conn, principal):
            short = self.short_binding(binding)
            if short is not None:
                out.append(short)
        return out
