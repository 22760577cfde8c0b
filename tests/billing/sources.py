"""Builders for the metering sources billing reads (what provisioning, topics, sampler write).

Times are aware UTC datetimes; sizes are bytes. GiB = 2^30.
"""

from __future__ import annotations

import datetime as dt

from clusters.models import ClusterEvent, TopicPartitionEvent
from fleet.models import TopicMinuteUsage
from tests.factories import ClusterFactory

GIB = 2**30
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """`"2026-11-01 10:30"` → aware UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def billed_cluster(activated: str, deleted: str | None = None, **kwargs):
    cluster = ClusterFactory(**kwargs)
    ClusterEvent.objects.create(cluster=cluster, kind="activated", occurred_at=at(activated))
    if deleted:
        ClusterEvent.objects.create(cluster=cluster, kind="deleted", occurred_at=at(deleted))
    return cluster


def partitions(cluster, topic: str, when: str, count: int, *, kind: str | None = None) -> None:
    """The topic has `count` partitions from `when` (0 = deleted)."""
    previous = (
        TopicPartitionEvent.objects.filter(cluster=cluster, topic_name=topic)
        .order_by("-occurred_at", "-id")
        .values_list("partition_count", flat=True)
        .first()
        or 0
    )
    kind = kind or ("deleted" if count == 0 else "created" if not previous else "partitions_added")
    TopicPartitionEvent.objects.create(
        cluster=cluster,
        topic_name=topic,
        kind=kind,
        partitions_delta=count - previous,
        partition_count=count,
        occurred_at=at(when),
        source="console",
    )


def minute_row(cluster, topic: str, when: str, *, bytes_in=0, bytes_out=0, storage=0, messages=0):
    """What the sampler writes for one topic and minute (an upsert that SETS the values)."""
    TopicMinuteUsage.objects.update_or_create(
        cluster=cluster,
        topic=topic,
        minute=at(when),
        defaults={
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "storage_bytes": storage,
            "messages_in": messages,
        },
    )
