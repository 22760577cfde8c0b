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

    class Admission(models.TextChoices):
        OPEN = "open", "Open to new clusters"
        DRAINING = "draining", "Draining"
        CLOSED = "closed", "Closed to new clusters"

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
    # Whether placement may put new serverless clusters here (issue 14). Health is `state`;
    # admission is the platform team's decision, independent of it.
    admission = models.CharField(max_length=16, choices=Admission.choices, default=Admission.OPEN)
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
        FENCED = "fenced", "Fenced"
        UNREGISTERED = "unregistered", "Unregistered"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="brokers")
    node_id = models.PositiveIntegerField()
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    metrics_url = models.URLField(max_length=300)
    # The broker's own per-topic metrics endpoint (io.skiff.metrics.TopicMetricsEndpoint, issue
    # 20): what the sampler reads every second. Blank for brokers without it (registered cells,
    # nodes still running from before it): the sampler then reads `metrics_url` (the exporter).
    topic_metrics_url = models.URLField(max_length=300, blank=True, default="")
    pid = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UP)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # KRaft roles of the node: "broker,controller" for the combined nodes a cell starts with,
    # "broker" for nodes added later by a fleet operation.
    roles = models.CharField(max_length=32, default="broker,controller")
    rack = models.CharField(max_length=64, blank=True)
    # The sampler's last scrape of this broker's metrics endpoint, successful or not.
    last_scrape_at = models.DateTimeField(null=True, blank=True)
    last_scrape_error = models.CharField(max_length=500, blank=True)

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


class FleetOperation(models.Model):
    """One platform operation on a cell (issue 14): add or remove a broker, rebalance, restart.

    The state lives here so that an operation survives a crash of the worker running it: a
    resumed run reads `plan` and `progress` and goes on from the batch it had reached. Whatever
    the outcome (success, failure, cancel), the replication throttle it set is cleared.
    """

    class Kind(models.TextChoices):
        ADD_BROKER = "add_broker", "Add broker"
        REMOVE_BROKER = "remove_broker", "Remove broker"
        REBALANCE = "rebalance", "Rebalance"
        ROLLING_RESTART = "rolling_restart", "Rolling restart"

    class Mode(models.TextChoices):
        FULL = "full", "full"
        ADD_BROKERS = "add-brokers", "add-brokers"
        REMOVE_BROKERS = "remove-brokers", "remove-brokers"

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE_STATES = (State.PLANNED, State.RUNNING, State.CANCELLING)

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    # The brokers the operation is about (added, removed, or the targets of a rebalance mode).
    broker_ids = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    # The planner's output: moves (topic, partition, from replicas, to replicas) and batches.
    plan = models.JSONField(default=dict, blank=True)
    # What has been done: batches applied and completed, the current step, counters.
    progress = models.JSONField(default=dict, blank=True)
    throttle_bytes_per_second = models.BigIntegerField(null=True, blank=True)
    requested_by = models.CharField(
        max_length=255, blank=True, help_text="Who asked: a staff e-mail, or 'autoscaler'."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by the worker while it runs; a RUNNING operation whose heartbeat is old is resumed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cell", "state"], name="fleet_op_cell_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.cell.name} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class AutoscaleDecision(models.Model):
    """One evaluation of a cell by the autoscaler, including "no action", with its numbers."""

    class Action(models.TextChoices):
        NONE = "none", "No action"
        SCALE_UP = "scale_up", "Add a broker"
        SCALE_DOWN = "scale_down", "Remove a broker"
        COOLDOWN = "cooldown", "Held by cooldown"
        BUSY = "busy", "Held by a running operation"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="autoscale_decisions")
    decided_at = models.DateTimeField()
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.CharField(max_length=500)
    # The window's figures per broker and the thresholds they were compared with.
    metrics = models.JSONField(default=dict)
    dry_run = models.BooleanField(default=False)
    operation = models.ForeignKey(
        FleetOperation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["cell", "-decided_at"], name="fleet_autoscale_cell_time")]

    def __str__(self) -> str:
        return f"{self.cell.name} {self.decided_at:%Y-%m-%d %H:%M} {self.action}"


class ConnectWorker(models.Model):
    """The Kafka Connect worker of one tenant cluster (issue 19), run by the platform.

    Started on demand (fleet/services/connect_workers.py) when the cluster's first connector is
    created; its REST listener is on loopback only. `pid`, `rest_port` and `last_rss_bytes`
    describe the running JVM; `restarts` counts the supervisor's restarts after a crash.
    """

    class State(models.TextChoices):
        STARTING = "starting", "Starting"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="connect_workers")
    tenant_prefix = models.CharField(
        max_length=120, unique=True, help_text="The cluster's wire prefix, '<team>.<cluster>.'."
    )
    rest_port = models.PositiveIntegerField(null=True, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTING)
    started_at = models.DateTimeField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    last_rss_bytes = models.BigIntegerField(null=True, blank=True)
    heap_mb = models.PositiveIntegerField(default=320)
    # Why the last start failed (logs only; never shown to tenants).
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cell__name", "tenant_prefix"]

    def __str__(self) -> str:
        return f"Connect worker of {self.tenant_prefix} on {self.cell.name} ({self.state})"


class LegacyScramFailure(models.Model):
    """The last SCRAM login of a username on a cell that failed with librdkafka's doubled nonce
    (librdkafka before 2.6.1, which Kafka 4 answers with "invalid credentials").

    The brokers record it (io.skiff.auth.LegacyScramWatch, fleet/policy/) and publish it on
    their metrics endpoint; `fleet.services.legacy_clients.legacy_scram_scan` copies it here
    once a minute, so the hint on the key's page survives a broker restart. `client_versions`
    are the librdkafka versions below 2.6.1 connected to that broker at that moment ("" when
    the broker saw none); `failures` is the brokers' count since they started.
    """

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="legacy_scram_failures")
    username = models.CharField(max_length=200)
    client_versions = models.CharField(max_length=200, blank=True)
    last_failed_at = models.DateTimeField()
    failures = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cell", "username"], name="legacy_scram_failure_unique_cell_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} on {self.cell_id}: librdkafka {self.client_versions or '< 2.6.1'}"
