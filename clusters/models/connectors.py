"""Managed Kafka Connect (issue 19): a cluster's connectors and their task-count history.

A connector runs on the cluster's Connect worker group (fleet side, `fleet.connect`); the
console is the only caller of the worker's REST API. `Connector.config` is what the tenant
wrote, with short topic names and without secrets; the secrets are sealed in
`sealed_secrets` and reach the worker as config-provider placeholders. `ConnectorTaskEvent`
is the billing record: task-hours are the number of billed tasks integrated over time.
"""

from django.db import models

from clusters.models.clusters import Cluster


class ConnectorQuerySet(models.QuerySet["Connector"]):
    def live(self) -> "ConnectorQuerySet":
        return self.filter(deleted_at__isnull=True)


class Connector(models.Model):
    class State(models.TextChoices):
        # Connect's own connector states, plus ours around them.
        CREATING = "CREATING", "Creating"
        RUNNING = "RUNNING", "Running"
        PAUSED = "PAUSED", "Paused"
        STOPPED = "STOPPED", "Stopped"
        FAILED = "FAILED", "Failed"
        UNASSIGNED = "UNASSIGNED", "Unassigned"
        RESTARTING = "RESTARTING", "Restarting"
        UNKNOWN = "UNKNOWN", "Unknown (worker not answering)"
        DELETED = "DELETED", "Deleted"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="connectors")
    # Also its name on the cluster's worker (one worker group per cluster).
    name = models.CharField(max_length=64)
    plugin = models.CharField(max_length=64)  # an id of fleet.connect.plugins.ALLOWED_PLUGINS
    # As the tenant wrote it: short names, no secrets, no platform-forced keys.
    config = models.JSONField(default=dict)
    # Names of the config keys whose values are sealed (PASSWORD fields of the plugin).
    secret_keys = models.JSONField(default=list, blank=True)
    sealed_secrets = models.TextField(blank=True)  # JSON dict, sealed (clusters.services.sealing)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATING)
    state_checked_at = models.DateTimeField(null=True, blank=True)
    # The tasks billed from the last event on (kept here to write an event only on change).
    billed_tasks = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        "console.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ConnectorQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"],
                condition=models.Q(deleted_at__isnull=True),
                name="connector_unique_live_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.name}"


class ConnectorTaskEvent(models.Model):
    """From `occurred_at` on, `tasks` tasks of the connector are billed (0: paused, deleted)."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="task_events")
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="connector_task_events"
    )
    tasks = models.PositiveIntegerField()
    occurred_at = models.DateTimeField()
    reason = models.CharField(max_length=32)  # created, paused, resumed, status, deleted…

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["cluster", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.connector} {self.tasks} tasks from {self.occurred_at:%Y-%m-%d %H:%M:%S}"
