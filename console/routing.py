"""WebSocket routes of every app, gathered in one list (live throughput adds its consumer here)."""

from django.urls import path

from clusters import consumers

websocket_urlpatterns: list = [
    path(
        "ws/clusters/<int:cluster_id>/throughput/",
        consumers.ClusterThroughputConsumer.as_asgi(),
        name="ws-cluster-throughput",
    ),
    path(
        "ws/clusters/<int:cluster_id>/topics/<str:topic>/throughput/",
        consumers.TopicThroughputConsumer.as_asgi(),
        name="ws-topic-throughput",
    ),
]
