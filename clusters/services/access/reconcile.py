"""Make the cell hold exactly what the database says about each key: ACLs and quotas.

A key's desired ACLs = its policy compiled (clusters.services.access.policy) + its manual
bindings, both with the cluster's allow-list as host of ALLOW bindings. The reconciler only
ever reads, creates and deletes bindings whose principal is one of Skiff's keys, so it never
touches another tenant or the platform's own ACLs. It runs after every change (key create,
policy save, manual binding, allow-list edit) and periodically (console/periodic.py) to
repair drift: an ACL deleted or added behind Skiff's back is put right within one period.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import cast

from clusters.models import AccessKey, Cluster, ManualAclBinding, PolicyTemplate
from clusters.services.access.policy import (
    KAFKA_CLUSTER_RESOURCE,
    PolicyInvalid,
    compile_policy_to_acls,
    template_policy,
)
from clusters.services.cells import cluster_cell
from fleet import limits
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import PlatformSuperuser, platform_superuser
from fleet.kafka.quotas import QUOTA_KEYS
from fleet.kafka.types import AclBinding, PatternTypeName, PermissionName, ResourceTypeName
from fleet.models import Cell

logger = logging.getLogger(__name__)

# Quota keys Skiff manages; anything else set on a key's user is removed.
MANAGED_QUOTAS = QUOTA_KEYS


@dataclass
class ReconcileResult:
    created: list[AclBinding] = field(default_factory=list)
    deleted: list[AclBinding] = field(default_factory=list)
    quotas_changed: dict[str, float | None] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.deleted or self.quotas_changed)


def key_policy_document(key: AccessKey) -> dict:
    """The policy a key is governed by: its template's document, or its custom document."""
    if key.policy_template == PolicyTemplate.CUSTOM or key.policy_document:
        return key.policy_document or {}
    return template_policy(key.policy_template, key.cluster)


def manual_acl_bindings(
    key: AccessKey, manual: list[ManualAclBinding] | None = None
) -> list[AclBinding]:
    cluster = key.cluster
    hosts = tuple(cluster.allowed_client_ips) or ("*",)
    out = []
    for m in key.manual_acls.all() if manual is None else manual:
        name = (
            KAFKA_CLUSTER_RESOURCE
            if m.resource_type == ManualAclBinding.ResourceType.CLUSTER
            else cluster.wire_prefix + m.name
        )
        for host in hosts if m.permission == "ALLOW" else ("*",):
            out.append(
                # Rows are written only through access.acls.validate_manual_acl, which admits
                # exactly these names (and AclBinding checks them again).
                AclBinding(
                    cast(ResourceTypeName, m.resource_type),
                    name,
                    cast(PatternTypeName, m.pattern_type),
                    key.principal,
                    host,
                    m.operation,
                    cast(PermissionName, m.permission),
                )
            )
    return out


def key_desired_acls(
    key: AccessKey, *, worker_clusters: frozenset[int] | None = None
) -> list[AclBinding]:
    """What the cell must hold for this key. Raises PolicyInvalid for a broken stored policy.

    ``worker_clusters`` (ids of the clusters that have a Connect worker key, see
    `clusters_with_worker`) spares a query per key when a caller goes through a whole cell.
    """
    cluster = key.cluster
    if key.revoked_at is not None or cluster.state not in (
        Cluster.State.ACTIVE,
        Cluster.State.CREATING,
    ):
        return []
    compiled = compile_policy_to_acls(
        key_policy_document(key),
        cluster=cluster,
        username=key.username,
        # The platform's own key (the Connect worker's) connects from the platform, not from
        # the tenant's allowed addresses.
        hosts=() if key.platform_managed else cluster.allowed_client_ips,
    )
    return sorted(
        set(compiled)
        | set(manual_acl_bindings(key))
        | set(partition_ceiling_acls(key))
        | set(connect_reserved_acls(key, worker_clusters=worker_clusters))
    )


# The Connect worker group's own resources (short names): while a cluster has a worker, no
# tenant key may touch them. Writing a connector record into the configs topic would run a
# connector the console never validated (Connect runs whatever that topic holds).
CONNECT_RESERVED_TOPICS = ("connect-configs", "connect-offsets", "connect-status")
CONNECT_RESERVED_GROUP = "connect"


def clusters_with_worker(cell: Cell) -> frozenset[int]:
    """Ids of the cell's clusters that have a live platform-managed (Connect worker) key: one
    query for a whole cell, where asking per key would make one per key (issue 20)."""
    return frozenset(
        AccessKey.objects.filter(
            cluster__cell=cell, platform_managed=True, revoked_at__isnull=True
        ).values_list("cluster_id", flat=True)
    )


def connect_reserved_acls(
    key: AccessKey, *, worker_clusters: frozenset[int] | None = None
) -> list[AclBinding]:
    """DENY ALL on the worker's internal topics and group for a tenant key, while the cluster
    has a platform-managed (worker) key. ``worker_clusters``: see `clusters_with_worker`
    (without it, this key's cluster is asked)."""
    if key.platform_managed:
        return []
    cluster = key.cluster
    if worker_clusters is not None:
        if cluster.pk not in worker_clusters:
            return []
    elif not cluster.access_keys.filter(platform_managed=True, revoked_at__isnull=True).exists():
        return []
    prefix = cluster.wire_prefix
    resources: list[tuple[ResourceTypeName, str]] = [
        *(("TOPIC", prefix + name) for name in CONNECT_RESERVED_TOPICS),
        ("GROUP", prefix + CONNECT_RESERVED_GROUP),
    ]
    return [
        AclBinding(kind, name, "LITERAL", key.principal, "*", "ALL", "DENY")
        for kind, name in resources
    ]


# Denied to every key of a cluster the topic sync found over its partition limits
# (clusters.services.topic_guard): no new topics (CREATE on the topics and on the cluster
# resource, which CreateTopics also accepts), no partitions or config changes (ALTER,
# ALTER_CONFIGS on its topics). Deleting, producing and consuming stay allowed.
CEILING_DENIED: tuple[tuple[ResourceTypeName, str], ...] = (
    ("TOPIC", "CREATE"),
    ("TOPIC", "ALTER"),
    ("TOPIC", "ALTER_CONFIGS"),
    ("CLUSTER", "CREATE"),
)


def partition_ceiling_acls(key: AccessKey) -> list[AclBinding]:
    """DENY bindings for the key while its cluster is over its partition limits."""
    cluster = key.cluster
    if cluster.partitions_over_limit_since is None:
        return []
    return [
        AclBinding(
            resource_type,
            KAFKA_CLUSTER_RESOURCE if resource_type == "CLUSTER" else cluster.wire_prefix,
            "LITERAL" if resource_type == "CLUSTER" else "PREFIXED",
            key.principal,
            "*",
            operation,
            "DENY",
        )
        for resource_type, operation in CEILING_DENIED
    ]


def key_desired_quotas(key: AccessKey, *, brokers: int | None = None) -> dict[str, float]:
    """The service's client quotas for the key; ``brokers`` (the cell's broker count) spares
    a count per key when a caller goes through a whole cell."""
    if key.revoked_at is not None:
        return {}
    if brokers is None:
        brokers = cluster_cell(key.cluster).brokers.count()
    return limits.access_key_quotas(brokers)


def quota_changes(desired: dict[str, float], actual: dict[str, float]) -> dict[str, float | None]:
    """What to set (value) and remove (None) so that a user's quotas go from actual to desired."""
    changes: dict[str, float | None] = {
        name: value for name, value in desired.items() if actual.get(name) != value
    }
    changes.update({name: None for name in actual if name not in desired})
    return changes


def reconcile_key_acls(
    key: AccessKey,
    *,
    superuser: PlatformSuperuser | None = None,
    actual: list[AclBinding] | None = None,
    worker_clusters: frozenset[int] | None = None,
) -> ReconcileResult:
    """Cell's ACLs for the key == desired set: create missing, delete extra, nothing else."""
    superuser = superuser or platform_superuser(cluster_cell(key.cluster))
    desired = set(key_desired_acls(key, worker_clusters=worker_clusters))
    current = set(superuser.describe_acls(key.principal) if actual is None else actual)
    result = ReconcileResult(created=sorted(desired - current), deleted=sorted(current - desired))
    # Create before deleting: a policy change never passes through "less than either".
    if result.created:
        superuser.create_acls(result.created)
    if result.deleted:
        superuser.delete_acls(result.deleted)
    if result.changed:
        logger.info(
            "reconciled ACLs of %s: %d created, %d deleted",
            key.username,
            len(result.created),
            len(result.deleted),
        )
    return result


def reconcile_key_quotas(
    key: AccessKey,
    *,
    superuser: PlatformSuperuser | None = None,
    actual: dict[str, float] | None = None,
) -> dict[str, float | None]:
    """Set the key's client quotas to the service limits (remove them for a revoked key)."""
    superuser = superuser or platform_superuser(cluster_cell(key.cluster))
    desired = key_desired_quotas(key)
    if actual is None:
        actual = superuser.describe_user_quotas(key.username).get(key.username, {})
    changes = quota_changes(desired, actual)
    if changes:
        superuser.alter_user_quotas(key.username, changes)
    return changes


def reconcile_key(key: AccessKey, *, superuser: PlatformSuperuser | None = None) -> ReconcileResult:
    superuser = superuser or platform_superuser(cluster_cell(key.cluster))
    result = reconcile_key_acls(key, superuser=superuser)
    result.quotas_changed = reconcile_key_quotas(key, superuser=superuser)
    return result


def reconcile_cluster_keys(cluster: Cluster, *, superuser: PlatformSuperuser | None = None) -> None:
    """Reconcile every key of a cluster (after an allow-list change, for example)."""
    superuser = superuser or platform_superuser(cluster_cell(cluster))
    keys = list(
        cluster.access_keys.select_related("cluster__team", "cluster__cell")
        .prefetch_related("manual_acls")
        .order_by("id")
    )
    workers = frozenset(k.cluster_id for k in keys if k.platform_managed and k.revoked_at is None)
    for key in keys:
        if key.revoked_at is None:
            reconcile_key_acls(key, superuser=superuser, worker_clusters=workers)


@dataclass
class CellReport:
    keys: int = 0
    created: int = 0
    deleted: int = 0
    quotas_changed: int = 0
    errors: list[str] = field(default_factory=list)


# Bindings per CreateAcls/DeleteAcls request and users per AlterClientQuotas request: a cell
# that drifted everywhere (a restored backup, a new allow-list rule) is repaired in a few
# requests of a bounded size.
ACL_BATCH = 1000
QUOTA_BATCH = 500


def reconcile_cell_access(cell: Cell) -> CellReport:
    """The periodic repair for one cell, in a number of admin requests that does not grow with
    its keys: one ACL listing and one quota listing for all of them, then the differences of
    every key together: CreateAcls, then DeleteAcls, then AlterClientQuotas (each split only
    past ACL_BATCH/QUOTA_BATCH entries). No request is made per key.

    Keys of ACTIVE clusters get their desired set; revoked keys and keys of FAILED clusters
    get nothing (a failed revoke or provisioning is finished here). Clusters being created or
    deleted are left to their own task.
    """
    report = CellReport()
    superuser = platform_superuser(cell)
    keys = list(
        AccessKey.objects.filter(
            cluster__cell=cell,
            cluster__state__in=[Cluster.State.ACTIVE, Cluster.State.FAILED],
        )
        .select_related("cluster__team", "cluster__cell")
        .prefetch_related("manual_acls")
        .order_by("id")
    )
    if not keys:
        return report
    by_principal: dict[str, list[AclBinding]] = defaultdict(list)
    for binding in superuser.describe_acls():
        by_principal[binding.principal].append(binding)
    quotas = superuser.describe_user_quotas()
    brokers = cell.brokers.count()
    workers = clusters_with_worker(cell)
    to_create: list[AclBinding] = []
    to_delete: list[AclBinding] = []
    quota_plan: dict[str | None, dict[str, float | None]] = {}
    for key in keys:
        report.keys += 1
        try:
            # Keys of a FAILED cluster desire nothing (key_desired_acls): nothing of a failed
            # cluster may stay on the cell; its keys come back when provisioning is retried.
            desired = set(key_desired_acls(key, worker_clusters=workers))
        except PolicyInvalid as exc:
            report.errors.append(f"{key.username}: stored policy is invalid ({exc.messages[0]})")
            logger.error("key %s has an invalid stored policy: %s", key.username, exc.messages)
            continue
        current = set(by_principal.get(key.principal, []))
        created, deleted = sorted(desired - current), sorted(current - desired)
        if created or deleted:
            logger.info(
                "reconciling ACLs of %s: %d to create, %d to delete",
                key.username,
                len(created),
                len(deleted),
            )
        to_create += created
        to_delete += deleted
        active = key.cluster.state == Cluster.State.ACTIVE
        desired_quotas = key_desired_quotas(key, brokers=brokers) if active else {}
        changes = quota_changes(desired_quotas, quotas.get(key.username, {}))
        if changes:
            quota_plan[key.username] = changes
    # Create before deleting: a policy change never passes through "less than either". When a
    # creation fails, nothing is deleted this pass (the next one repairs both).
    try:
        for batch in _batches(to_create, ACL_BATCH):
            superuser.create_acls(batch)
            report.created += len(batch)
        for batch in _batches(to_delete, ACL_BATCH):
            superuser.delete_acls(batch)
            report.deleted += len(batch)
    except KafkaGatewayError as exc:
        report.errors.append(f"ACLs: {exc.message}")
        logger.warning("reconciling ACLs of cell %s failed: %s", cell.name, exc.message)
    users = sorted(quota_plan, key=lambda user: user or "")
    try:
        for start in range(0, len(users), QUOTA_BATCH):
            chunk = {user: quota_plan[user] for user in users[start : start + QUOTA_BATCH]}
            superuser.alter_many_user_quotas(chunk)
            report.quotas_changed += sum(len(changes) for changes in chunk.values())
    except KafkaGatewayError as exc:
        report.errors.append(f"quotas: {exc.message}")
        logger.warning("reconciling quotas of cell %s failed: %s", cell.name, exc.message)
    return report


def _batches(items: list[AclBinding], size: int) -> list[list[AclBinding]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def reconcile_all_access() -> dict[str, CellReport]:
    """Every cell with clusters: the periodic task's body."""
    reports = {}
    cells = Cell.objects.filter(
        clusters__state__in=[Cluster.State.ACTIVE, Cluster.State.FAILED]
    ).distinct()
    for cell in cells:
        try:
            reports[cell.name] = reconcile_cell_access(cell)
        except (KafkaGatewayError, OSError) as exc:
            logger.warning("access reconcile of cell %s failed: %s", cell.name, exc)
            reports[cell.name] = CellReport(errors=[str(exc)])
    return reports
