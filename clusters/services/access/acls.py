"""The ACL page: bindings read from the cell, and manual bindings inside the namespace."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from clusters.models import AccessKey, Cluster, ManualAclBinding
from clusters.services.access.policy import PolicyInvalid, short_resource_name
from clusters.services.access.reconcile import (
    key_desired_acls,
    manual_acl_bindings,
    reconcile_key_acls,
)
from console.audit import audit_record
from console.errors import ValidationFailed
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.tenant import ClusterGateway
from fleet.kafka.types import AclBinding

logger = logging.getLogger(__name__)

MANUAL_OPERATIONS: dict[str, tuple[str, ...]] = {
    "TOPIC": (
        "READ",
        "WRITE",
        "CREATE",
        "DELETE",
        "ALTER",
        "DESCRIBE",
        "DESCRIBE_CONFIGS",
        "ALTER_CONFIGS",
        "ALL",
    ),
    "GROUP": ("READ", "DESCRIBE", "DELETE", "ALL"),
    "TRANSACTIONAL_ID": ("WRITE", "DESCRIBE", "ALL"),
    # Any other CLUSTER operation would reach the whole shared cell.
    "CLUSTER": ("IDEMPOTENT_WRITE",),
}
SHORT_NAME_RE = re.compile(r"^[A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class AclRow:
    key: AccessKey
    binding: AclBinding
    short_name: str
    source: str  # "policy" | "manual" | "drift" (on the cell, not desired) | "missing"
    manual_id: int | None = None


# Up to this many keys, the access tab reads each key's bindings (the request's cost is the
# cluster's own); past it, one listing of the cell, filtered (fewer round trips).
PER_KEY_ACL_READS = 8


def _describe_keys_acls(gw: ClusterGateway, principals: list[str]) -> list[AclBinding]:
    """The bindings on the cell of these keys of the cluster (short names)."""
    if len(principals) > PER_KEY_ACL_READS:
        wanted = set(principals)
        return [b for b in gw.describe_acls() if b.principal in wanted]
    return [b for principal in principals for b in gw.describe_acls(principal)]


def cluster_acl_rows(cluster: Cluster) -> tuple[list[AclRow], list[str]]:
    """Every binding on the cell for the cluster's keys, plus desired ones not there (yet).

    Read through the cluster's own gateway (the access tab is tenant-facing): it can only see
    bindings of this cluster's keys. Returns (rows, problems): a key whose stored policy no
    longer compiles is reported, not fatal.
    """
    gw = ClusterGateway(cluster)
    keys = {
        k.principal: k
        for k in cluster.access_keys.select_related("cluster__team", "cluster__cell")
        .prefetch_related("manual_acls")
        .order_by("id")
    }
    on_cell = [gw.wire_binding(b) for b in _describe_keys_acls(gw, list(keys))]
    rows: list[AclRow] = []
    problems: list[str] = []
    desired: dict[str, set[AclBinding]] = {}
    manual: dict[AclBinding, int] = {}
    # Whether the cluster has a Connect worker, from the keys already read (not once per key).
    workers = frozenset(
        key.cluster_id for key in keys.values() if key.platform_managed and key.revoked_at is None
    )
    for principal, key in keys.items():
        try:
            desired[principal] = set(key_desired_acls(key, worker_clusters=workers))
        except PolicyInvalid as exc:
            desired[principal] = set()
            problems.append(f"Key '{key.name}': its stored policy is invalid ({exc.messages[0]}).")
        for m in key.manual_acls.all():
            for b in manual_acl_bindings(key, [m]):
                manual[b] = m.pk
    for b in on_cell:
        key = keys[b.principal]
        if b in manual:
            source = "manual"
        elif b in desired[b.principal]:
            source = "policy"
        else:
            source = "drift"
        rows.append(
            AclRow(key, b, short_resource_name(b, cluster.wire_prefix), source, manual.get(b))
        )
    present = set(on_cell)
    for principal, bindings in desired.items():
        for b in sorted(bindings - present):
            rows.append(
                AclRow(
                    keys[principal],
                    b,
                    short_resource_name(b, cluster.wire_prefix),
                    "missing",
                    manual.get(b),
                )
            )
    rows.sort(
        key=lambda r: (r.key.name, r.binding.resource_type, r.short_name, r.binding.operation)
    )
    return rows, problems


def validate_manual_acl(
    key: AccessKey,
    *,
    resource_type: str,
    name: str,
    pattern_type: str,
    operation: str,
    permission: str,
) -> dict:
    errors: dict[str, str] = {}
    resource_type = (resource_type or "").upper()
    pattern_type = (pattern_type or "LITERAL").upper()
    operation = (operation or "").upper()
    permission = (permission or "ALLOW").upper()
    name = (name or "").strip()
    if resource_type not in MANUAL_OPERATIONS:
        errors["resource_type"] = "Choose TOPIC, GROUP, TRANSACTIONAL_ID or CLUSTER."
    elif operation not in MANUAL_OPERATIONS[resource_type]:
        errors["operation"] = (
            f"On {resource_type} choose one of: {', '.join(MANUAL_OPERATIONS[resource_type])}."
        )
    if permission not in ("ALLOW", "DENY"):
        errors["permission"] = "Choose ALLOW or DENY."
    if name.endswith("*"):
        name, pattern_type = name[:-1], "PREFIXED"
    if pattern_type not in ("LITERAL", "PREFIXED"):
        errors["pattern_type"] = "Choose LITERAL or PREFIXED."
    if resource_type == "CLUSTER":
        name, pattern_type = "", "LITERAL"
    elif "*" in name or not SHORT_NAME_RE.match(name):
        errors["name"] = (
            "Use the short name (without the cluster prefix): letters, digits, '.', '_', '-'; "
            "a '*' only at the end for a prefix."
        )
    elif not name and pattern_type == "LITERAL":
        errors["name"] = "An exact (LITERAL) binding needs a name; end it with '*' for a prefix."
    elif len(key.cluster.wire_prefix + name) > 249:
        errors["name"] = "The name is too long (at most 249 characters with the prefix)."
    if errors:
        raise ValidationFailed(errors)
    return {
        "resource_type": resource_type,
        "name": name,
        "pattern_type": pattern_type,
        "operation": operation,
        "permission": permission,
    }


def manual_acl_add(*, key: AccessKey, **fields) -> list[ManualAclBinding]:
    """Add one manual binding (inside the namespace by construction), then reconcile."""
    return manual_acls_add(key=key, entries=[fields])


def manual_acls_add(*, key: AccessKey, entries: list[dict]) -> list[ManualAclBinding]:
    """Add several manual bindings at once (the page's producer/consumer/Streams templates)."""
    cluster = key.cluster
    if key.revoked_at is not None:
        raise ValidationFailed("This access key is revoked.")
    if cluster.state != Cluster.State.ACTIVE:
        raise ValidationFailed(
            f"The cluster is {cluster.state}: ACLs can change once it is ACTIVE."
        )
    clean = [validate_manual_acl(key, **entry) for entry in entries]
    created: list[ManualAclBinding] = []
    with transaction.atomic():
        for values in clean:
            try:
                with transaction.atomic():
                    obj, was_new = ManualAclBinding.objects.get_or_create(key=key, **values)
            except IntegrityError as exc:  # pragma: no cover - a concurrent identical add
                raise ValidationFailed("This binding exists already.") from exc
            if was_new:
                created.append(obj)
        if not created:
            raise ValidationFailed("These bindings exist already.")
        audit_record(
            team=cluster.team,
            action="acl.create",
            target=key,
            after={"bindings": [str(m) for m in created]},
        )
        try:
            reconcile_key_acls(key)
        except KafkaGatewayError:
            _best_effort_reconcile(key.pk)
            raise
    return created


def manual_acl_remove(*, binding: ManualAclBinding) -> None:
    key = binding.key
    cluster = key.cluster
    with transaction.atomic():
        audit_record(
            team=cluster.team,
            action="acl.delete",
            target=key,
            before={"binding": str(binding)},
        )
        binding.delete()
        try:
            reconcile_key_acls(key)
        except KafkaGatewayError:
            _best_effort_reconcile(key.pk)
            raise


def _best_effort_reconcile(key_id: int) -> None:
    try:
        reconcile_key_acls(AccessKey.objects.get(pk=key_id))
    except Exception:  # the periodic reconciler finishes it; the first error is what counts
        logger.exception("compensating reconcile of key %s failed", key_id)


# The ACL page's templates: manual binding sets for common client kinds.
def manual_template_entries(kind: str, *, topic: str, group: str = "") -> list[dict]:
    """Bindings for a producer / consumer / Kafka Streams app on ``topic`` (a name or 'x*')."""
    topic = (topic or "").strip()
    group = (group or "").strip()
    if not topic:
        raise ValidationFailed({"topic": "Give a topic name, or a prefix ending with '*'."})

    def entry(resource_type, name, operation, pattern="LITERAL"):
        return {
            "resource_type": resource_type,
            "name": name,
            "pattern_type": pattern,
            "operation": operation,
            "permission": "ALLOW",
        }

    if kind == "producer":
        return [entry("TOPIC", topic, "WRITE"), entry("TOPIC", topic, "DESCRIBE")]
    if kind == "consumer":
        if not group:
            raise ValidationFailed({"group": "A consumer needs its group id (or a prefix '*')."})
        return [
            entry("TOPIC", topic, "READ"),
            entry("TOPIC", topic, "DESCRIBE"),
            entry("GROUP", group, "READ"),
            entry("GROUP", group, "DESCRIBE"),
        ]
    if kind == "streams":
        app = group
        if not app or "*" in app:
            raise ValidationFailed({"group": "A Kafka Streams app needs its application.id."})
        # Input/output topics, plus everything Streams names after application.id: internal
        # topics (<app>-...-changelog/-repartition), the group and the transactional ids (EOS).
        return [
            entry("TOPIC", topic, "READ"),
            entry("TOPIC", topic, "WRITE"),
            entry("TOPIC", topic, "DESCRIBE"),
            entry("TOPIC", app, "ALL", "PREFIXED"),
            entry("GROUP", app, "READ", "PREFIXED"),
            entry("GROUP", app, "DESCRIBE", "PREFIXED"),
            entry("TRANSACTIONAL_ID", app, "WRITE", "PREFIXED"),
            entry("TRANSACTIONAL_ID", app, "DESCRIBE", "PREFIXED"),
            entry("CLUSTER", "", "IDEMPOTENT_WRITE"),
        ]
    raise ValidationFailed({"kind": "Choose producer, consumer or streams."})
