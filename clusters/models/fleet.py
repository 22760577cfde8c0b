"""The fleet: cells of Kafka brokers that the platform runs."""

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
        ordering = ["cell__name", "node_id"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "node_id"], name="broker_unique_cell_node")
        ]

    def __str__(self) -> str:
        return f"{self.cell.name}/{self.node_id}"
