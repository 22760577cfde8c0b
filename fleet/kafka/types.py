"""What the gateway returns: Skiff's own dataclasses, never a client-library type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BrokerDescription:
    node_id: int
    host: str
    port: int
    rack: str | None
    # Set by fleet.kafka.brokers.describe_brokers (issue 14); describe_cluster leaves the defaults.
    fenced: bool = False
    is_controller: bool = False  # a voter of the KRaft controller quorum


@dataclass(frozen=True)
class ClusterDescription:
    cluster_id: str
    controller_id: int | None
    brokers: tuple[BrokerDescription, ...]


@dataclass(frozen=True)
class PartitionDescription:
    id: int
    leader: int  # -1 when the partition has no leader
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class TopicDescription:
    name: str
    partitions: tuple[PartitionDescription, ...]

    @property
    def replication_factor(self) -> int:
        return len(self.partitions[0].replicas) if self.partitions else 0


@dataclass(frozen=True)
class ConfigEntryDescription:
    name: str
    value: str | None  # None for sensitive values
    source: str  # e.g. "DYNAMIC_TOPIC_CONFIG", "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG"
    is_default: bool
    is_read_only: bool
    is_sensitive: bool


ResourceTypeName = Literal["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"]


PatternTypeName = Literal["LITERAL", "PREFIXED"]


PermissionName = Literal["ALLOW", "DENY"]


_ACL_OPERATIONS = frozenset(
    {
        "ALL",
        "READ",
        "WRITE",
        "CREATE",
        "DELETE",
        "ALTER",
        "DESCRIBE",
        "CLUSTER_ACTION",
        "DESCRIBE_CONFIGS",
        "ALTER_CONFIGS",
        "IDEMPOTENT_WRITE",
    }
)


@dataclass(frozen=True, order=True)
class AclBinding:
    resource_type: ResourceTypeName
    resource_name: str
    pattern_type: PatternTypeName
    principal: str  # "User:<name>"
    host: str = "*"
    operation: str = "READ"
    permission: PermissionName = "ALLOW"

    def __post_init__(self) -> None:
        if self.resource_type not in ("TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"):
            raise ValueError(f"unsupported ACL resource type {self.resource_type!r}")
        if self.pattern_type not in ("LITERAL", "PREFIXED"):
            raise ValueError(f"unsupported ACL pattern type {self.pattern_type!r}")
        if self.operation not in _ACL_OPERATIONS:
            raise ValueError(f"unsupported ACL operation {self.operation!r}")
        if self.permission not in ("ALLOW", "DENY"):
            raise ValueError(f"unsupported ACL permission {self.permission!r}")
        if not self.principal.startswith("User:"):
            raise ValueError(f"ACL principal must look like 'User:<name>', got {self.principal!r}")
        if not self.resource_name:
            raise ValueError("ACL resource name must not be empty")


@dataclass(frozen=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True)
class OutgoingRecord:
    """One record to produce, with the parts a plain value or (key, value) pair cannot carry."""

    value: bytes | str | None
    key: bytes | str | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()


# A bare value, a (key, value) pair, or a full record.
MessageInput = bytes | str | tuple[bytes | str | None, bytes | str | None] | OutgoingRecord


TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class PartitionOffsets:
    start: int  # log start offset (earliest)
    end: int  # high watermark (next offset to be written)

    @property
    def messages(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class GroupMemberDescription:
    member_id: str
    client_id: str
    host: str
    group_instance_id: str | None
    assignment: tuple[TopicPartitionKey, ...]


@dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str  # 'STABLE', 'EMPTY', 'PREPARING_REBALANCE', 'DEAD', 'UNKNOWN', …
    type: str  # 'CLASSIC' or 'CONSUMER' (KIP-848)
    partition_assignor: str
    coordinator: int | None
    members: tuple[GroupMemberDescription, ...]


@dataclass(frozen=True)
class ProducedRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
