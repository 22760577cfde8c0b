"""Throughput selectors: current rates, history from the per-minute rows, who may subscribe.

Pages, the API and the WebSocket consumers all read through here, so the document they serve
is the same one the sampler pushes (`fleet.services.sampler.throughput_document`).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from clusters.models import Cluster
from console.models import Membership
from console.permissions import Action, role_allows
from fleet.models import ThroughputSnapshot, TopicMinuteUsage
from fleet.services.sampler import empty_document

# window → (span, bucket seconds). 60 to 300 points per chart whatever the window.
HISTORY_WINDOWS: dict[str, tuple[dt.timedelta, int]] = {
    "15m": (dt.timedelta(minutes=15), 60),
    "1h": (dt.timedelta(hours=1), 60),
    "24h": (dt.timedelta(hours=24), 300),
    "7d": (dt.timedelta(days=7), 3600),
}
BUCKET_KIND = {60: "minute", 300: None, 3600: "hour"}
LIVE_STATES = [state for state in Cluster.State.values if state != Cluster.State.DELETED]


def throughput_subscription_allowed(user, cluster_id: int) -> bool:
    """A live cluster of a team the user belongs to, with a role that may view clusters.

    One query: every open socket re-runs this each minute, so 500 sockets make ~8 a second.
    """
    if user is None or not user.is_authenticated:
        return False
    role = (
        Membership.objects.filter(
            user_id=user.pk,
            user__is_active=True,
            # In the same filter() call: the same joined cluster row must match both.
            team__clusters__pk=cluster_id,
            team__clusters__state__in=LIVE_STATES,
        )
        .values_list("role", flat=True)
        .first()
    )
    return role is not None and role_allows(role, Action.CLUSTER_VIEW)


def current_throughput(cluster: Cluster) -> dict:
    """The last document the sampler pushed for this cluster (zeros before the first one)."""
    if cluster.cell_id is None:
        return empty_document()
    snapshot = (
        ThroughputSnapshot.objects.filter(cell_id=cluster.cell_id)
        .values_list("clusters", flat=True)
        .first()
    )
    document = (snapshot or {}).get(str(cluster.pk))
    return document if document is not None else empty_document()


def document_time(document: dict) -> dt.datetime | None:
    """When the sampler read the numbers of a document (its `ts`): the pages' "as of"."""
    try:
        return dt.datetime.fromisoformat(str(document["ts"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def only_topic(document: dict, topic: str) -> dict:
    """The document restricted to one topic: `cluster` then carries that topic's rates."""
    rates = document.get("topics", {}).get(topic)
    if rates is None:
        rates = empty_document()["cluster"]
    return {**document, "cluster": rates, "topics": {topic: rates}}


def throughput_history(
    cluster: Cluster, *, window: str, topic: str | None = None, now: dt.datetime | None = None
) -> dict:
    """Average rates per bucket from the per-minute rows, in the live document's units.

    {"window": "1h", "bucket_seconds": 60, "points": [{"ts", "bytes_in_per_sec", …}],
     "topics": {short: {"bytes_in": n, "bytes_out": n, "messages_in": n}}}  (window totals)
    Buckets without rows are zero (no traffic was counted in them).
    """
    span, bucket = HISTORY_WINDOWS[window]
    now = now or timezone.now()
    # Buckets aligned on their size; the last one holds the current (open) minute.
    open_until = int(now.timestamp()) // 60 * 60 + 60
    end = dt.datetime.fromtimestamp(-(-open_until // bucket) * bucket, dt.UTC)
    start = end - span
    rows = TopicMinuteUsage.objects.filter(cluster=cluster, minute__gte=start, minute__lt=end)
    if topic is not None:
        rows = rows.filter(topic=topic)

    totals: dict[dt.datetime, dict[str, int]] = {}
    per_minute = (
        rows.values("minute")
        .annotate(bi=Sum("bytes_in"), bo=Sum("bytes_out"), mi=Sum("messages_in"))
        .order_by("minute")
    )
    if BUCKET_KIND[bucket] == "hour":
        per_minute = (
            rows.annotate(b=Trunc("minute", "hour", tzinfo=dt.UTC))
            .values("b")
            .annotate(bi=Sum("bytes_in"), bo=Sum("bytes_out"), mi=Sum("messages_in"))
            .order_by("b")
        )
    for row in per_minute:
        moment = row.get("b") or row["minute"]
        epoch = int(moment.timestamp())
        key = dt.datetime.fromtimestamp(epoch - epoch % bucket, dt.UTC)
        slot = totals.setdefault(key, {"bytes_in": 0, "bytes_out": 0, "messages_in": 0})
        slot["bytes_in"] += row["bi"] or 0
        slot["bytes_out"] += row["bo"] or 0
        slot["messages_in"] += row["mi"] or 0

    points = []
    cursor = start
    while cursor < end:
        slot = totals.get(cursor, {})
        points.append(
            {
                "ts": cursor.isoformat().replace("+00:00", "Z"),
                "bytes_in_per_sec": round(slot.get("bytes_in", 0) / bucket, 4),
                "bytes_out_per_sec": round(slot.get("bytes_out", 0) / bucket, 4),
                "messages_in_per_sec": round(slot.get("messages_in", 0) / bucket, 4),
            }
        )
        cursor += dt.timedelta(seconds=bucket)

    topics = {
        row["topic"]: {"bytes_in": row["bi"], "bytes_out": row["bo"], "messages_in": row["mi"]}
        for row in rows.values("topic")
        .annotate(bi=Sum("bytes_in"), bo=Sum("bytes_out"), mi=Sum("messages_in"))
        .order_by("topic")
    }
    return {
        "window": window,
        "bucket_seconds": bucket,
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
        "points": points,
        "topics": topics,
    }
