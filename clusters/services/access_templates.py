"""Fixed ACL sets for the create wizard's policy templates, scoped to the cluster's prefix.

Every binding is PREFIXED on the cluster's wire prefix (or the cell's CLUSTER resource with an
operation that reaches no other tenant's data), one binding per allowed client address.
"""

from clusters.kafka.gateway import AclBinding
from clusters.models import PolicyTemplate

# (resource type, operations) granted on the cluster's prefix, per template.
_PREFIX_GRANTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    PolicyTemplate.ADMIN: (
        ("TOPIC", ("ALL",)),
        ("GROUP", ("ALL",)),
        ("TRANSACTIONAL_ID", ("ALL",)),
    ),
    PolicyTemplate.PRODUCE_CONSUME: (
        ("TOPIC", ("DESCRIBE", "DESCRIBE_CONFIGS", "READ", "WRITE")),
        ("GROUP", ("DESCRIBE", "READ")),
        ("TRANSACTIONAL_ID", ("DESCRIBE", "WRITE")),
    ),
    PolicyTemplate.READ_ONLY: (
        ("TOPIC", ("DESCRIBE", "DESCRIBE_CONFIGS", "READ")),
        ("GROUP", ("DESCRIBE", "READ")),
    ),
    # Custom policies are stored at creation and compiled to ACLs by the policy compiler;
    # until a custom policy is compiled the key can authenticate but not touch any resource.
    PolicyTemplate.CUSTOM: (),
}

# Harmless cluster-level operations: idempotent producers need IDEMPOTENT_WRITE, and admin
# tools call DescribeCluster. Neither reveals or changes another tenant's data.
_CLUSTER_GRANTS: dict[str, tuple[str, ...]] = {
    PolicyTemplate.ADMIN: ("DESCRIBE", "IDEMPOTENT_WRITE"),
    PolicyTemplate.PRODUCE_CONSUME: ("IDEMPOTENT_WRITE",),
    PolicyTemplate.READ_ONLY: (),
    PolicyTemplate.CUSTOM: (),
}

KAFKA_CLUSTER_RESOURCE = "kafka-cluster"


def template_acl_bindings(
    template: str, *, username: str, prefix: str, hosts: list[str] | tuple[str, ...] = ()
) -> list[AclBinding]:
    if template not in _PREFIX_GRANTS:
        raise ValueError(f"unknown policy template {template!r}")
    principal = f"User:{username}"
    bindings = []
    for host in hosts or ("*",):
        for resource_type, operations in _PREFIX_GRANTS[template]:
            bindings.extend(
                AclBinding(resource_type, prefix, "PREFIXED", principal, host, operation, "ALLOW")
                for operation in operations
            )
        bindings.extend(
            AclBinding(
                "CLUSTER", KAFKA_CLUSTER_RESOURCE, "LITERAL", principal, host, operation, "ALLOW"
            )
            for operation in _CLUSTER_GRANTS[template]
        )
    return bindings
