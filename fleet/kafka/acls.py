"""ACL bindings: create, describe and delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka.admin import (
    AclBinding as _CkAclBinding,
)
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from fleet.kafka.connection import (
    KafkaConnection,
    _admin,
    _await,
    _request_timeout,
    _require_cluster_permission,
    _result,
    any_broker_read,
    log,
)
from fleet.kafka.types import AclBinding, ResourceTypeName


# librdkafka names Kafka's CLUSTER resource type (code 4) "BROKER"; Skiff uses Kafka's name.
def _ck_resource_type(name: str) -> ResourceType:
    return ResourceType.BROKER if name == "CLUSTER" else ResourceType[name]


_FROM_CK_RESOURCE_TYPES: dict[ResourceType, ResourceTypeName] = {
    ResourceType.TOPIC: "TOPIC",
    ResourceType.GROUP: "GROUP",
    ResourceType.BROKER: "CLUSTER",
    ResourceType.TRANSACTIONAL_ID: "TRANSACTIONAL_ID",
}


def _from_ck_resource_type(resource_type: ResourceType) -> ResourceTypeName:
    try:
        return _FROM_CK_RESOURCE_TYPES[resource_type]
    except KeyError:  # e.g. DELEGATION_TOKEN: outside the platform's model (describe_acls skips)
        raise ValueError(f"unsupported ACL resource type {resource_type.name!r}") from None


def _to_ck(binding: AclBinding) -> _CkAclBinding:
    return _CkAclBinding(
        _ck_resource_type(binding.resource_type),
        binding.resource_name,
        ResourcePatternType[binding.pattern_type],
        binding.principal,
        binding.host,
        AclOperation[binding.operation],
        AclPermissionType[binding.permission],
    )


def _from_ck(binding: Any) -> AclBinding:
    return AclBinding(
        resource_type=_from_ck_resource_type(binding.restype),
        resource_name=binding.name,
        pattern_type=binding.resource_pattern_type.name,
        principal=binding.principal,
        host=binding.host,
        operation=binding.operation.name,
        permission=binding.permission_type.name,
    )


def create_acls(conn: KafkaConnection, bindings: Sequence[AclBinding]) -> None:
    """Create ACL bindings (creating an existing binding is a no-op in Kafka)."""
    if not bindings:
        return
    context = "Creating ACLs"
    unique = list(dict.fromkeys(bindings))
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.create_acls(
            [_to_ck(b) for b in unique], request_timeout=_request_timeout(deadline)
        )
        _await(admin, trap, deadline, futures.values(), context)
        for future in futures.values():
            _result(future, context)


def describe_acls(
    conn: KafkaConnection,
    principal: str | None = None,
    *,
    resource_type: ResourceTypeName | None = None,
) -> list[AclBinding]:
    context = "Reading ACLs"
    acl_filter = AclBindingFilter(
        _ck_resource_type(resource_type) if resource_type else ResourceType.ANY,
        # confluent-kafka's stub gives the filter AclBinding's `str` for name, principal and
        # host, but a filter documents (and takes) None as "match any value".
        None,  # type: ignore[arg-type]  # stub wrong: None matches any name
        ResourcePatternType.ANY,
        principal,  # type: ignore[arg-type]  # stub wrong: None matches any principal
        None,  # type: ignore[arg-type]  # stub wrong: None matches any host
        AclOperation.ANY,
        AclPermissionType.ANY,
    )

    def read() -> Any:
        with _admin(conn) as (admin, trap, deadline):
            _require_cluster_permission(admin, trap, deadline, "DESCRIBE", context)
            future = admin.describe_acls(acl_filter, request_timeout=_request_timeout(deadline))
            _await(admin, trap, deadline, [future], context)
            return _result(future, context)

    result = any_broker_read(conn, read)  # a stopped broker: another one answers
    out: list[AclBinding] = []
    for b in result:
        try:
            out.append(_from_ck(b))
        except ValueError:
            # Foreign bindings (e.g. DELEGATION_TOKEN resources or MATCH patterns made by
            # another tool) are outside the platform's model; skip rather than fail the listing.
            log.debug("skipping ACL binding outside the platform model: %r", b)
    return sorted(out)


def delete_acls(conn: KafkaConnection, bindings: Sequence[AclBinding]) -> int:
    """Delete exactly these bindings. Returns how many bindings Kafka removed."""
    if not bindings:
        return 0
    context = "Deleting ACLs"
    filters = [
        AclBindingFilter(
            _ck_resource_type(b.resource_type),
            b.resource_name,
            ResourcePatternType[b.pattern_type],
            b.principal,
            b.host,
            AclOperation[b.operation],
            AclPermissionType[b.permission],
        )
        for b in dict.fromkeys(bindings)
    ]
    deleted = 0
    with _admin(conn) as (admin, trap, deadline):
        futures = admin.delete_acls(filters, request_timeout=_request_timeout(deadline))
        _await(admin, trap, deadline, futures.values(), context)
        for future in futures.values():
            deleted += len(_result(future, context))
    return deleted
