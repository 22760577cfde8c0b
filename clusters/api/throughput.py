"""Throughput API: the live document (current rates) and history from the per-minute rows."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clusters.models import Cluster
from clusters.throughput import HISTORY_WINDOWS, current_throughput, throughput_history
from console.api.mixins import TeamScopedAPIMixin
from console.permissions import Action


def _rates(name: str):
    return inline_serializer(
        name=name,
        fields={
            "bytes_in_per_sec": serializers.FloatField(),
            "bytes_out_per_sec": serializers.FloatField(),
            "messages_in_per_sec": serializers.FloatField(),
            "storage_bytes": serializers.IntegerField(),
        },
    )


ThroughputDocument = inline_serializer(
    name="ThroughputDocument",
    fields={
        "ts": serializers.DateTimeField(),
        "cluster": _rates("ThroughputRates"),
        "topics": serializers.DictField(child=_rates("TopicThroughputRates")),
        "partial": serializers.BooleanField(help_text="A broker did not answer this scrape."),
    },
)

ThroughputHistory = inline_serializer(
    name="ThroughputHistory",
    fields={
        "window": serializers.ChoiceField(choices=["1h", "24h", "7d"]),
        "bucket_seconds": serializers.IntegerField(),
        "start": serializers.DateTimeField(),
        "end": serializers.DateTimeField(),
        "points": inline_serializer(
            name="ThroughputPoint",
            many=True,
            fields={
                "ts": serializers.DateTimeField(),
                "bytes_in_per_sec": serializers.FloatField(),
                "bytes_out_per_sec": serializers.FloatField(),
                "messages_in_per_sec": serializers.FloatField(),
            },
        ),
        "topics": serializers.DictField(
            child=inline_serializer(
                name="TopicWindowTotals",
                fields={
                    "bytes_in": serializers.IntegerField(),
                    "bytes_out": serializers.IntegerField(),
                    "messages_in": serializers.IntegerField(),
                },
            ),
            help_text="Totals over the window per topic (short names).",
        ),
    },
)


class ClusterThroughputAPIView(TeamScopedAPIMixin, generics.GenericAPIView):
    """Current rates: the document the sampler last pushed on `/ws/clusters/{id}/throughput/`."""

    queryset = Cluster.objects.live()
    required_action = Action.CLUSTER_VIEW
    pagination_class = None

    @extend_schema(responses={200: ThroughputDocument})
    def get(self, request, pk):
        return Response(current_throughput(self.get_object()))


class ClusterThroughputHistoryAPIView(TeamScopedAPIMixin, generics.GenericAPIView):
    """Average rates per bucket over the last hour (1 min), 24 hours (5 min) or 7 days (1 h)."""

    queryset = Cluster.objects.live()
    required_action = Action.CLUSTER_VIEW
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("window", OpenApiTypes.STR, enum=["1h", "24h", "7d"], default="1h"),
            OpenApiParameter("topic", OpenApiTypes.STR, description="One topic (short name)."),
        ],
        responses={200: ThroughputHistory},
    )
    def get(self, request, pk):
        cluster = self.get_object()  # another team's cluster is a 404 before anything else
        window = request.query_params.get("window", "1h")
        if window not in HISTORY_WINDOWS or window == "15m":
            raise ValidationError({"window": "Choose one of 1h, 24h, 7d."})
        topic = request.query_params.get("topic") or None
        return Response(throughput_history(cluster, window=window, topic=topic))
