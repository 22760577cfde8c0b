"""Traffic and storage samples: per-minute usage rows (history, metering) and sampler state.

The sampler (clusters/services/sampler.py) is the only writer. Billing reads `TopicMinuteUsage`:
`bytes_in`, `bytes_out` and `messages_in` are DELTAS (what the leaders counted during the
minute, replication excluded); `storage_bytes` is a GAUGE (the topic's size at the minute's last
sample). All quantities are integers.
"""

from django.db import models

from clusters.models.clusters import Cluster
from clusters.models.fleet import Cell


class TopicMinuteUsage(models.Model):
    """One topic of one cluster during one minute `[minute, minute + 60 s)` (UTC)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="minute_usage")
    topic = models.CharField(max_length=255, help_text="Short name (without the wire prefix).")
    minute = models.DateTimeField(help_text="Start of the minute, aware UTC, seconds zero.")
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    messages_in = models.BigIntegerField(default=0)
    storage_bytes = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    def __str__(self) -> str:
        return f"throughput of {self.cell_id} at {self.taken_at:%Y-%m-%d %H:%M:%S}"
