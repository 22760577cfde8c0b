"""Serverless cluster lifecycle as seen by users: validate, create, retry, delete.

The broker work happens in `clusters.services.provisioning`, run by tasks enqueued on commit.
"""

import re
import uuid
from dataclasses import dataclass, field
from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.models import (
    AccessKey,
    Cluster,
    ClusterDraft,
    ClusterEvent,
    PolicyTemplate,
    cluster_name_validator,
)
from clusters.services.access.policy import ClusterScope, analyze_policy
from clusters.services.capacity import check_fleet_room_for_cluster
from clusters.services.key_identity import (
    access_key_username,
    new_key_secret,
    validate_client_ips,
)
from clusters.services.sealing import seal
from clusters.tasks import delete_cluster_task, provision_cluster_task
from console import background
from console.audit import audit_record
from console.errors import ValidationFailed
from console.models import Team, User
from fleet import limits

TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")


@dataclass
class ClusterSpec:
    """What a user asks for, from the wizard or the API."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    policy_template: str = PolicyTemplate.PRODUCE_CONSUME
    policy_document: dict | None = None
    allowed_client_ips: list[str] = field(default_factory=list)


def validate_cluster_name(team: Team, name: str) -> str:
    name = (name or "").strip()
    try:
        cluster_name_validator(name)
    except ValidationError as exc:
        raise ValidationFailed({"name": exc.messages}) from exc
    if Cluster.objects.live().filter(team=team, name=name).exists():
        raise ValidationFailed(
            {"name": f"Your team already has a cluster named '{name}'. Choose another name."}
        )
    return name


def validate_tags(tags) -> dict[str, str]:
    if tags in (None, ""):
        return {}
    if not isinstance(tags, dict):
        raise ValidationFailed({"tags": "Tags must be an object of key/value strings."})
    if len(tags) > limits.MAX_TAGS:
        raise ValidationFailed({"tags": f"At most {limits.MAX_TAGS} tags per cluster."})
    clean = {}
    for key, value in tags.items():
        key = str(key).strip()
        value = "" if value is None else str(value)
        if not TAG_KEY_RE.match(key):
            raise ValidationFailed(
                {"tags": f"Tag key '{key}' must be 1–128 letters, digits, spaces or _.:/=+-@."}
            )
        if len(value) > 256:
            raise ValidationFailed({"tags": f"Tag '{key}' has a value over 256 characters."})
        clean[key] = value
    return clean


def validate_policy(
    template: str, document, *, team_slug: str | None = None, cluster_name: str | None = None
) -> tuple[str, dict | None]:
    if template not in PolicyTemplate.values:
        choices = ", ".join(PolicyTemplate.values)
        raise ValidationFailed(
            {"policy_template": f"Unknown policy template '{template}'. Choose one of: {choices}."}
        )
    if template != PolicyTemplate.CUSTOM:
        return template, None
    if not isinstance(document, dict):
        raise ValidationFailed({"policy_document": "A custom policy must be a JSON object."})
    statements = document.get("Statement")
    if document.get("Version") is None or not isinstance(statements, list) or not statements:
        raise ValidationFailed(
            {"policy_document": "A policy needs a 'Version' and a non-empty 'Statement' list."}
        )
    if team_slug and cluster_name:
        # The full check (the access compiler), once the cluster's namespace is known.

        analyze_policy(document, cluster=ClusterScope(team_slug, cluster_name), username="preview")
    return template, document


def validate_cluster_spec(team: Team, spec: ClusterSpec) -> ClusterSpec:
    """Check everything before anything is created; raises ValidationError per field."""
    errors: dict[str, list[str]] = {}
    clean = ClusterSpec(name=spec.name)
    checks = [
        ("name", lambda: validate_cluster_name(team, spec.name)),
        ("tags", lambda: validate_tags(spec.tags)),
        ("allowed_client_ips", lambda: validate_client_ips(spec.allowed_client_ips)),
        (
            "policy",
            lambda: validate_policy(
                spec.policy_template,
                spec.policy_document,
                team_slug=team.slug,
                cluster_name=(spec.name or "").strip(),
            ),
        ),
    ]
    for attr, check in checks:
        try:
            value = check()
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            continue
        if attr == "policy":
            # The "policy" check is validate_policy: a (template, document) pair.
            clean.policy_template, clean.policy_document = cast("tuple[str, dict | None]", value)
        else:
            setattr(clean, attr, value)
    if errors:
        raise ValidationFailed(errors)
    return clean


def check_cluster_limit(team: Team) -> None:
    limit = settings.SKIFF_MAX_CLUSTERS_PER_TEAM
    if Cluster.objects.live().filter(team=team).count() >= limit:
        raise ValidationFailed(
            {
                "name": f"Your team has reached its limit of {limit} clusters. Delete one or ask "
                "the platform team to raise the limit."
            }
        )


@dataclass(frozen=True)
class CreatedCluster:
    cluster: Cluster
    initial_key: AccessKey
    secret: str | None  # None when a repeated submission returned the cluster created before


def cluster_create(
    *, team: Team, user: User | None, spec: ClusterSpec, draft: ClusterDraft | None = None
) -> CreatedCluster:
    """Record a CREATING cluster with its first access key and enqueue provisioning.

    Submitting the same draft twice returns the first cluster (one cluster per draft).

    Validation, the capacity check and the key's secret come before the transaction: they
    only read, and on SQLite every transaction holds the database's one write lock from its
    BEGIN (IMMEDIATE) to its commit, so 20 creates at once wait for each other's transactions
    (issue 20). The name's uniqueness is the database's (a constraint; a create that lost the
    race answers as validation would) and the team's limit is counted under the lock.
    """
    if draft is not None and (before := _draft_cluster(draft.pk)) is not None:
        return before
    try:
        clean = validate_cluster_spec(team, spec)
    except ValidationFailed:
        # The same draft, submitted twice at once: the other submission's cluster now has
        # the name. Answer with it, as when the submissions come one after the other.
        if draft is not None and (before := _draft_cluster(draft.pk)) is not None:
            return before
        raise
    check_fleet_room_for_cluster()
    secret = new_key_secret()
    sealed_secret = seal(secret)
    with transaction.atomic():
        if draft is not None:
            draft = ClusterDraft.objects.select_for_update().get(pk=draft.pk)
            if draft.cluster is not None:
                return _created_before(draft.cluster)
        check_cluster_limit(team)
        cluster = Cluster(
            team=team,
            name=clean.name,
            tags=clean.tags,
            allowed_client_ips=clean.allowed_client_ips,
            created_by=user,
        )
        try:
            with transaction.atomic():
                cluster.save()
        except IntegrityError as exc:  # a concurrent create of the same name won the race
            raise ValidationFailed(
                {"name": f"Your team already has a cluster named '{clean.name}'."}
            ) from exc
        key = AccessKey.objects.create(
            cluster=cluster,
            name="initial",
            description="Created with the cluster",
            username=access_key_username(cluster, "initial"),
            policy_template=clean.policy_template,
            policy_document=clean.policy_document,
            sealed_secret=sealed_secret,
        )
        ClusterEvent.objects.create(
            cluster=cluster, kind=ClusterEvent.Kind.REQUESTED, occurred_at=timezone.now()
        )
        if draft is not None:
            draft.cluster = cluster
            draft.save(update_fields=["cluster", "updated_at"])
        audit_record(
            team=team,
            action="cluster.create",
            target=cluster,
            after={
                "name": cluster.name,
                "tags": cluster.tags,
                "allowed_client_ips": cluster.allowed_client_ips,
                "policy_template": clean.policy_template,
            },
        )
        _enqueue_provisioning(cluster.pk)
    # As it is now (where tasks run inline, provisioning has run at the commit), with what the
    # answer shows of it, in one query.
    cluster = Cluster.objects.select_related("team", "cell").get(pk=cluster.pk)
    key.cluster = cluster  # the key's pages and snippets read its cluster as it is now
    return CreatedCluster(cluster, key, secret)


def _draft_cluster(draft_id: uuid.UUID) -> CreatedCluster | None:
    """The cluster a draft was already submitted as, if it was."""
    cluster = ClusterDraft.objects.get(pk=draft_id).cluster
    return None if cluster is None else _created_before(cluster)


def _created_before(cluster: Cluster) -> CreatedCluster:
    # Created with the cluster; keys are revoked, never deleted.
    return CreatedCluster(cluster, cluster.access_keys.earliest("created_at"), None)


def cluster_retry(*, cluster: Cluster) -> Cluster:
    """Run provisioning again for a FAILED cluster (every step is idempotent)."""
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if locked.state != Cluster.State.FAILED:
            raise ValidationFailed(f"Only a failed cluster can be retried (it is {locked.state}).")
        locked.state = Cluster.State.CREATING
        locked.state_reason = ""
        locked.progress = ""
        locked.save(update_fields=["state", "state_reason", "progress", "updated_at"])
        audit_record(team=locked.team, action="cluster.retry", target=locked)
        _enqueue_provisioning(locked.pk)
    locked.refresh_from_db()
    return locked


def cluster_delete(*, cluster: Cluster) -> Cluster:
    """Mark the cluster DELETING and enqueue the removal of everything it has on the cell."""
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if locked.state == Cluster.State.DELETED:
            raise ValidationFailed("This cluster is already deleted.")
        if locked.state == Cluster.State.CREATING:
            raise ValidationFailed("Wait until the cluster is ACTIVE or FAILED, then delete it.")
        before = {"state": locked.state}
        locked.state = Cluster.State.DELETING
        locked.state_reason = ""
        locked.progress = ""
        locked.save(update_fields=["state", "state_reason", "progress", "updated_at"])
        audit_record(
            team=locked.team,
            action="cluster.delete",
            target=locked,
            before=before,
            after={"state": locked.state},
        )
        _enqueue_deletion(locked.pk)
    if locked.connectors.live().exists():
        # Its connectors go with it, and its Connect worker stops (issue 19); the worker's key
        # and internal topics go with the cluster's keys and topics.
        from clusters.services.connectors import cluster_connectors_remove

        cluster_connectors_remove(cluster=locked)
    locked.refresh_from_db()
    return locked


def cluster_update_tags(*, cluster: Cluster, tags) -> Cluster:
    """Replace a cluster's tags (validated as at creation); audited, even when unchanged (the
    request was made)."""
    clean = validate_tags(tags)
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if locked.state in (Cluster.State.DELETING, Cluster.State.DELETED):
            raise ValidationFailed({"tags": "This cluster is being deleted: its tags are final."})
        before = {"tags": dict(locked.tags or {})}
        locked.tags = clean
        locked.save(update_fields=["tags", "updated_at"])
        audit_record(
            team=locked.team,
            action="cluster.tags",
            target=locked,
            before=before,
            after={"tags": clean},
        )
    cluster.tags = locked.tags
    return locked


def _enqueue_provisioning(cluster_id: int) -> None:
    # console.background: the embedded server's pool, or Celery (inline where tasks are eager).
    transaction.on_commit(lambda: background.enqueue(provision_cluster_task, cluster_id))


def _enqueue_deletion(cluster_id: int) -> None:

    transaction.on_commit(lambda: background.enqueue(delete_cluster_task, cluster_id))
