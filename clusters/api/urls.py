from django.urls import path
from rest_framework.routers import SimpleRouter

from clusters.api import access as access_api
from clusters.api import connectors as connector_api
from clusters.api import topics as topic_api
from clusters.api.throughput import ClusterThroughputAPIView, ClusterThroughputHistoryAPIView
from clusters.api.views import ClusterViewSet

router = SimpleRouter()
router.register("clusters", ClusterViewSet, basename="cluster")

urlpatterns = [
    # A file name, so no trailing slash (the router's own route has one too).
    path(
        "clusters/<int:pk>/ca.pem",
        ClusterViewSet.as_view({"get": "ca_pem"}),
        name="cluster-ca-file",
    ),
    # Topics, consumer groups and messages (issue 4)
    path("clusters/<int:pk>/topics/", topic_api.TopicListAPIView.as_view(), name="topic-list"),
    path(
        "clusters/<int:pk>/topics/<str:name>/",
        topic_api.TopicDetailAPIView.as_view(),
        name="topic-detail",
    ),
    path(
        "clusters/<int:pk>/topics/<str:name>/partitions/",
        topic_api.TopicPartitionsAPIView.as_view(),
        name="topic-partitions",
    ),
    path(
        "clusters/<int:pk>/topics/<str:name>/purge/",
        topic_api.TopicPurgeAPIView.as_view(),
        name="topic-purge",
    ),
    path(
        "clusters/<int:pk>/topics/<str:name>/messages/",
        topic_api.TopicMessagesAPIView.as_view(),
        name="topic-messages",
    ),
    path(
        "clusters/<int:pk>/consumer-groups/",
        topic_api.ConsumerGroupListAPIView.as_view(),
        name="consumer-group-list",
    ),
    # A group id may contain "/" (see clusters/urls.py): the reset route first.
    path(
        "clusters/<int:pk>/consumer-groups/<path:group>/reset-offsets/",
        topic_api.ConsumerGroupResetAPIView.as_view(),
        name="consumer-group-reset-offsets",
    ),
    path(
        "clusters/<int:pk>/consumer-groups/<path:group>/",
        topic_api.ConsumerGroupDetailAPIView.as_view(),
        name="consumer-group-detail",
    ),
    path(
        "clusters/<int:pk>/throughput/",
        ClusterThroughputAPIView.as_view(),
        name="cluster-throughput",
    ),
    path(
        "clusters/<int:pk>/throughput/history/",
        ClusterThroughputHistoryAPIView.as_view(),
        name="cluster-throughput-history",
    ),
    # Access keys, policies and ACLs (issue 5)
    path("clusters/<int:pk>/keys/", access_api.KeyListAPIView.as_view(), name="key-list"),
    path(
        "clusters/<int:pk>/keys/<int:key_id>/",
        access_api.KeyDetailAPIView.as_view(),
        name="key-detail",
    ),
    path(
        "clusters/<int:pk>/keys/<int:key_id>/rotate/",
        access_api.KeyRotateAPIView.as_view(),
        name="key-rotate",
    ),
    path(
        "clusters/<int:pk>/keys/<int:key_id>/policy/",
        access_api.KeyPolicyAPIView.as_view(),
        name="key-policy",
    ),
    path("clusters/<int:pk>/acls/", access_api.ClusterAclAPIView.as_view(), name="cluster-acls"),
    # Managed connectors (issue 19); "plugins" and "validate" are not connector names.
    path(
        "clusters/<int:pk>/connectors/",
        connector_api.ConnectorListAPIView.as_view(),
        name="connector-list",
    ),
    path(
        "clusters/<int:pk>/connectors/plugins/",
        connector_api.ConnectorPluginsAPIView.as_view(),
        name="connector-plugins",
    ),
    path(
        "clusters/<int:pk>/connectors/validate/",
        connector_api.ConnectorValidateAPIView.as_view(),
        name="connector-validate",
    ),
    path(
        "clusters/<int:pk>/connectors/<str:name>/",
        connector_api.ConnectorDetailAPIView.as_view(),
        name="connector-detail",
    ),
    path(
        "clusters/<int:pk>/connectors/<str:name>/config/",
        connector_api.ConnectorConfigAPIView.as_view(),
        name="connector-config",
    ),
    path(
        "clusters/<int:pk>/connectors/<str:name>/pause/",
        connector_api.ConnectorPauseAPIView.as_view(),
        name="connector-pause",
    ),
    path(
        "clusters/<int:pk>/connectors/<str:name>/resume/",
        connector_api.ConnectorResumeAPIView.as_view(),
        name="connector-resume",
    ),
    path(
        "clusters/<int:pk>/connectors/<str:name>/restart/",
        connector_api.ConnectorRestartAPIView.as_view(),
        name="connector-restart",
    ),
    *router.urls,
]
