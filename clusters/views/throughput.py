"""Throughput pages: live charts over the cluster's socket, per-topic table, history windows."""

import datetime as dt

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from clusters.models import Topic
from clusters.throughput import current_throughput, only_topic
from clusters.views.clusters import team_cluster
from console.access import TeamViewMixin
from console.permissions import Action
from fleet.models import TopicMinuteUsage

LIVE_WINDOW = dt.timedelta(minutes=15)


def recent_minutes(cluster, topic: str | None = None) -> dict:
    """The last 15 closed minutes as chart seed data: {"t": [...], "<rate key>": [...]}."""
    end = timezone.now().replace(second=0, microsecond=0)  # the current minute is still open
    rows = TopicMinuteUsage.objects.filter(
        cluster=cluster, minute__gte=end - LIVE_WINDOW, minute__lt=end
    )
    if topic is not None:
        rows = rows.filter(topic=topic)
    totals: dict[dt.datetime, list[int]] = {}
    for minute, bytes_in, bytes_out, messages_in in rows.values_list(
        "minute", "bytes_in", "bytes_out", "messages_in"
    ):
        slot = totals.setdefault(minute, [0, 0, 0])
        slot[0] += bytes_in
        slot[1] += bytes_out
        slot[2] += messages_in
    seed = {"t": [], "bytes_in_per_sec": [], "bytes_out_per_sec": [], "messages_in_per_sec": []}
    minute = end - LIVE_WINDOW
    while minute < end:
        slot = totals.get(minute, [0, 0, 0])
        # A minute's average, plotted at its middle.
        seed["t"].append(minute.timestamp() + 30)
        seed["bytes_in_per_sec"].append(round(slot[0] / 60, 2))
        seed["bytes_out_per_sec"].append(round(slot[1] / 60, 2))
        seed["messages_in_per_sec"].append(round(slot[2] / 60, 2))
        minute += dt.timedelta(minutes=1)
    return seed


class ClusterThroughputView(TeamViewMixin, View):
    required_action = Action.CLUSTER_VIEW

    def get(self, request, pk):
        cluster = team_cluster(self, pk)
        context = {
            "nav": "clusters",
            "cluster": cluster,
            "topic": None,
            "document": current_throughput(cluster),
            "seed": recent_minutes(cluster),
            "ws_path": f"/ws/clusters/{cluster.pk}/throughput/",
            "history_url": reverse("cluster-throughput-history", args=[cluster.pk]),
        }
        return render(request, "clusters/cluster_throughput.html", context)


class TopicThroughputView(TeamViewMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk, topic):
        cluster = team_cluster(self, pk)
        document = current_throughput(cluster)
        # A topic made a moment ago has no sample yet, but its page links here already.
        known = (
            topic in document.get("topics", {})
            or Topic.objects.filter(cluster=cluster, name=topic).exists()
            or TopicMinuteUsage.objects.filter(cluster=cluster, topic=topic).exists()
        )
        if not known:
            raise Http404("No traffic or storage was ever sampled for this topic.")
        context = {
            "nav": "clusters",
            "cluster": cluster,
            "topic": topic,
            "document": only_topic(document, topic),
            "seed": recent_minutes(cluster, topic),
            "ws_path": f"/ws/clusters/{cluster.pk}/topics/{topic}/throughput/",
            "history_url": reverse("cluster-throughput-history", args=[cluster.pk])
            + f"?topic={topic}",
        }
        return render(request, "clusters/cluster_throughput.html", context)
