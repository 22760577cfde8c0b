"""Throughput pages: live charts over the cluster's socket, per-topic table, history windows."""

from django.shortcuts import render
from django.urls import reverse
from django.views import View

from clusters.selectors import cluster_get, throughput_recent_minutes, topic_is_known
from clusters.throughput import current_throughput, document_time, only_topic
from console.access import TeamViewMixin
from console.errors import NotFound
from console.permissions import Action


class ClusterThroughputView(TeamViewMixin, View):
    required_action = Action.CLUSTER_VIEW

    def get(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        document = current_throughput(cluster)
        context = {
            "nav": "clusters",
            "cluster": cluster,
            "topic": None,
            "document": document,
            "as_of": document_time(document),
            "seed": throughput_recent_minutes(cluster=cluster),
            "ws_path": f"/ws/clusters/{cluster.pk}/throughput/",
            "history_url": reverse("cluster-throughput-history", args=[cluster.pk]),
        }
        return render(request, "clusters/cluster_throughput.html", context)


class TopicThroughputView(TeamViewMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk, topic):
        cluster = cluster_get(team=self.team, pk=pk)
        document = current_throughput(cluster)
        # A topic made a moment ago has no sample yet, but its page links here already.
        if not (topic in document.get("topics", {}) or topic_is_known(cluster=cluster, name=topic)):
            raise NotFound("No traffic or storage was ever sampled for this topic.")
        context = {
            "nav": "clusters",
            "cluster": cluster,
            "topic": topic,
            "document": only_topic(document, topic),
            "as_of": document_time(document),
            "seed": throughput_recent_minutes(cluster=cluster, topic=topic),
            "ws_path": f"/ws/clusters/{cluster.pk}/topics/{topic}/throughput/",
            "history_url": reverse("cluster-throughput-history", args=[cluster.pk])
            + f"?topic={topic}",
        }
        return render(request, "clusters/cluster_throughput.html", context)
