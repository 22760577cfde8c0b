"""Topics of serverless clusters as the console knows them, and their partition lifecycle.

The cell is the source of truth for what exists; `Topic` rows are the console's record of it
(kept in step by the topic services and by `sync_topics`, which also imports topics created over
the Kafka protocol). `TopicPartitionEvent` is the billing record: partition-hours are metered by
integrating each topic's `partition_count` over time between its events.
"""

from django.db import models

from clusters.models.clusters import Cluster


class Topic(models.Model):
    class Origin(models.TextChoices):
        CONSOLE = "console", "Console or API"
        KAFKA = "kafka", "Kafka protocol (imported by topic sync)"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="topics")
    # Short name, as users see it; the wire name is cluster.wire_prefix + name.
    name = models.CharField(max_length=249)
    partitions = models.PositiveIntegerField()
    replication_factor = models.PositiveSmallIntegerField(default=0)
    cleanup_policy = models.CharField(max_length=32, default="delete")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CONSOLE)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="topic_unique_cluster_name")
        ]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.name}"

    @property
    def wire_name(self) -> str:
        return f"{self.cluster.wire_prefix}{self.name}"

    @property
    def is_compacted(self) -> bool:
        return "compact" in self.cleanup_policy


class TopicPartitionEvent(models.Model):
    """One change of a topic's partition count: creation, partitions added, deletion.

    `partition_count` is the count after the change (0 after deletion) and `partitions_delta`
    the signed change, so billing can integrate counts and the rate limit can sum |delta|.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        PARTITIONS_ADDED = "partitions_added", "Partitions added"
        DELETED = "deleted", "Deleted"

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="topic_partition_events"
    )
    topic_name = models.CharField(max_length=249)  # short name; the topic row may be gone
    kind = models.CharField(max_length=24, choices=Kind.choices)
    partitions_delta = models.IntegerField()
    partition_count = models.PositiveIntegerField()
    compacted = models.BooleanField(default=False)
    occurred_at = models.DateTimeField()
    # Who saw it: the console's own operation, or the sync finding a change made over Kafka.
    source = models.CharField(max_length=16, choices=Topic.Origin.choices)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["cluster", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.topic_name} {self.kind} → {self.partition_count}"
