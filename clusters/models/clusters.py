"""Serverless clusters: tenants of a cell, their access keys, lifecycle and wizard drafts."""

import uuid

from django.core.validators import RegexValidator
from django.db import models

from console.models import Team
from fleet.models import Cell

cluster_name_validator = RegexValidator(
    r"^[A-Za-z0-9-]{1,64}$", "Cluster name may use letters, digits and '-' (1–64 chars)."
)


class ClusterQuerySet(models.QuerySet["Cluster"]):
    def live(self) -> "ClusterQuerySet":
        """Clusters that exist for their users (deleted ones stay only for billing history)."""
        return self.exclude(state=Cluster.State.DELETED)


class Cluster(models.Model):
    """A serverless cluster: a tenant namespace `<team-slug>.<name>.` on one cell."""

    class State(models.TextChoices):
        CREATING = "CREATING", "Creating"
        ACTIVE = "ACTIVE", "Active"
        FAILED = "FAILED", "Failed"
        DELETING = "DELETING", "Deleting"
        DELETED = "DELETED", "Deleted"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="clusters")
    name = models.CharField(max_length=64, validators=[cluster_name_validator])
    cell = models.ForeignKey(
        Cell, on_delete=models.PROTECT, related_name="clusters", null=True, blank=True
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATING)
    state_reason = models.TextField(blank=True)
    # The last provisioning (or deletion) step that completed, for live progress.
    progress = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # Exact client addresses allowed to connect with this cluster's keys (empty: any address).
    allowed_client_ips = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "console.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set by the topic sync while the cluster is over its partition limits (topics made over
    # the Kafka protocol): its keys are denied CREATE and ALTER until it is back under.
    partitions_over_limit_since = models.DateTimeField(null=True, blank=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=~models.Q(state="DELETED"),
                name="cluster_unique_live_team_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"

    @property
    def wire_prefix(self) -> str:
        """Every topic, group and transactional id of this cluster starts with this."""
        return f"{self.team.slug}.{self.name}."

    @property
    def bootstrap_servers(self) -> str | None:
        """What tenants' clients connect to."""
        if not self.cell_id:
            return None
        return self.cell.client_bootstrap_servers or self.cell.bootstrap_servers


class PolicyTemplate(models.TextChoices):
    """Policy templates: each is a policy document (clusters.services.access.policy)."""

    ADMIN = "admin", "Admin of this cluster"
    PRODUCE_CONSUME = "produce_consume", "Produce and consume all topics"
    PRODUCER = "producer", "Producer"
    IDEMPOTENT_PRODUCER = "idempotent_producer", "Idempotent producer"
    TRANSACTIONAL_PRODUCER = "transactional_producer", "Transactional producer"
    CONSUMER = "consumer", "Consumer"
    READ_ONLY = "read_only", "Read only"
    TOPIC_ADMIN = "topic_admin", "Topic admin"
    CUSTOM = "custom", "Custom JSON policy"


class AccessKey(models.Model):
    """A SCRAM-SHA-512 user on the cluster's cell. Its secret is never stored in clear."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="access_keys")
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    # SCRAM username on the cell: derived from the cluster's prefix, so unique across teams.
    username = models.CharField(max_length=200, unique=True)
    policy_template = models.CharField(max_length=32, choices=PolicyTemplate.choices)
    policy_document = models.JSONField(null=True, blank=True)
    # The generated secret, sealed (Fernet, keyed from SECRET_KEY) only until the SCRAM user
    # exists on the cell and its creator has seen it once; then wiped.
    sealed_secret = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Made by the platform for its own use in the cluster (the Connect worker's key): not
    # listed to tenants, not editable by them, revoked by the platform when no longer needed.
    platform_managed = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # A revoked key's name can be used again.
            models.UniqueConstraint(
                fields=["cluster", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="accesskey_unique_name",
            )
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def principal(self) -> str:
        return f"User:{self.username}"


class ClusterEvent(models.Model):
    """Lifecycle records: billing meters cluster-hours from ACTIVATED to DELETED."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", "Requested"
        ACTIVATED = "activated", "Activated"
        FAILED = "failed", "Provisioning failed"
        DELETED = "deleted", "Deleted"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            # Activation and deletion happen once; a re-run step must not record them twice.
            models.UniqueConstraint(
                fields=["cluster", "kind"],
                condition=models.Q(kind__in=["activated", "deleted"]),
                name="clusterevent_once_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster} {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class ClusterDraft(models.Model):
    """The create wizard's state, so going back or refreshing never loses what was typed.

    Its id is also the idempotency key: submitting the same draft twice creates one cluster.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("console.User", on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    cluster = models.OneToOneField(
        Cluster, on_delete=models.SET_NULL, null=True, blank=True, related_name="draft"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"draft {self.pk} of {self.user_id} in {self.team_id}"
