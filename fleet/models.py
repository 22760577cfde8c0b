"""The fleet: cells of Kafka brokers that the platform runs, and what the sampler records.

The models moved here from the clusters app; their tables keep the names they had there
(`clusters_cell`, ...), so the move changed no data.

Sampler rows: `TopicMinuteUsage` is written only by the sampler (fleet/services/sampler.py).
`bytes_in`, `bytes_out` and `messages_in` are DELTAS (what the leaders counted during the minute,
replication excluded); `storage_bytes` is a GAUGE (the topic's size at the minute's last sample).
All quantities are integers. Billing reads them only through `fleet.selectors`.
"""

from django.db import models


class Cell(models.Model):
    """One Kafka cluster of the fleet, administered with a super-user SCRAM credential."""

    class Kind(models.TextChoices):
        LOCAL = "local", "Local (launched on this host)"
        COMPOSE = "compose", "docker-compose"
        EXTERNAL = "external", "External"

    class State(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        DEGRADED = "degraded", "Degraded"
        DOWN = "down", "Down"

    name = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LOCAL)
    kafka_cluster_id = models.CharField(max_length=64, blank=True)
    # How the platform reaches the brokers, and (when different, e.g. behind docker-compose's
    # published ports) how tenants' clients do.
    bootstrap_servers = models.CharField(max_length=500)
    client_bootstrap_servers = models.CharField(max_length=500, blank=True)
    # The admin credential and CA live in files outside the repository (owner-only); the
    # database only knows where.
    credentials_path = models.CharField(max_length=500)
    ca_path = models.CharField(max_length=500)
    state = models.CharField(max_length=16, choices=State.choices, default=State.HEALTHY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "clusters_cell"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Broker(models.Model):
    class State(models.TextChoices):
        UP = "up", "Up"
        DOWN = "down", "Down"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="brokers")
    node_id = models.PositiveIntegerField()
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    metrics_url = models.URLField(max_length=300)
    pid = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.UP)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "clusters_broker"
        ordering = ["cell__name", "node_id"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "node_id"], name="broker_unique_cell_node")
        ]

    def __str__(self) -> str:
        return f"{self.cell.name}/{self.node_id}"


class TopicMinuteUsage(models.Model):
    """One topic of one cluster during one minute `[minute, minute + 60 s)` (UTC)."""

    # A string reference, not an import: the fleet app never imports the clusters app.
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="minute_usage"
    )
    topic = models.CharField(max_length=255, help_text="Short name (without the wire prefix).")
    minute = models.DateTimeField(help_text="Start of the minute, aware UTC, seconds zero.")
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    messages_in = models.BigIntegerField(default=0)
    storage_bytes = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "clusters_topicminuteusage"
        ordering = ["minute", "topic"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "topic", "minute"], name="topicminuteusage_unique_minute"
            ),
            models.CheckConstraint(
                condition=models.Q(bytes_in__gte=0)
                & models.Q(bytes_out__gte=0)
                & models.Q(messages_in__gte=0)
                & models.Q(storage_bytes__gte=0),
                name="topicminuteusage_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["cluster", "minute"], name="topicminuteusage_cl_min")]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.topic} {self.minute:%Y-%m-%d %H:%M}"


class SamplerCheckpoint(models.Model):
    """The last counter values the sampler accounted for, per cell, saved with each flush.

    A restarted sampler resumes from here, so the traffic of a sampling gap is carried by the
    next delta instead of being lost.
    """

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="sampler_checkpoint")
    # {"<node_id>": {"<metric>|<topic>": value, ...}, ...}
    counters = models.JSONField(default=dict)
    taken_at = models.DateTimeField()

    class Meta:
        db_table = "clusters_samplercheckpoint"

    def __str__(self) -> str:
        return f"checkpoint of {self.cell_id} at {self.taken_at:%Y-%m-%d %H:%M:%S}"


class ThroughputSnapshot(models.Model):
    """The latest live document of every cluster of a cell (what the socket last pushed).

    Served by the current-throughput API and sent to a socket when it connects, so neither has
    to wait for the next scrape. One row per cell, overwritten after every scrape.
    """

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="throughput")
    # {"<cluster id>": <the socket document>, ...}
    clusters = models.JSONField(default=dict)
    taken_at = models.DateTimeField()

    class Meta:
        db_table = "clusters_throughputsnapshot"

    def __str__(self) -> str:
        return f"throughput of {self.cell_id} at {self.taken_at:%Y-%m-%d %H:%M:%S}"
