from django.urls import path

from clusters.views import access, clusters, connectors, consumer_groups, throughput, topics

app_name = "clusters"

urlpatterns = [
    path("", clusters.ClusterListView.as_view(), name="list"),
    path("new/", clusters.ClusterCreateStartView.as_view(), name="create"),
    path("new/<uuid:draft_id>/<slug:step>/", clusters.ClusterWizardView.as_view(), name="wizard"),
    path("<int:pk>/", clusters.ClusterDetailView.as_view(), name="detail"),
    path("<int:pk>/status/", clusters.ClusterStatusView.as_view(), name="status"),
    path("<int:pk>/retry/", clusters.ClusterRetryView.as_view(), name="retry"),
    path("<int:pk>/tags/", clusters.ClusterTagsView.as_view(), name="tags"),
    path("<int:pk>/delete/", clusters.ClusterDeleteView.as_view(), name="delete"),
    path("<int:pk>/ca.pem", clusters.ClusterCaView.as_view(), name="ca"),
    # Topics, consumer groups and messages (issue 4)
    path("<int:pk>/topics/", topics.TopicListView.as_view(), name="topics"),
    path("<int:pk>/topics/new/", topics.TopicCreateView.as_view(), name="topic_create"),
    path(
        "<int:pk>/topics/<str:name>/",
        topics.TopicDetailView.as_view(),
        name="topic_detail",
    ),
    path(
        "<int:pk>/topics/<str:name>/configs/",
        topics.TopicActionView.as_view(action="configs"),
        name="topic_configs",
    ),
    path(
        "<int:pk>/topics/<str:name>/partitions/",
        topics.TopicActionView.as_view(action="partitions"),
        name="topic_partitions",
    ),
    path(
        "<int:pk>/topics/<str:name>/purge/",
        topics.TopicActionView.as_view(action="purge"),
        name="topic_purge",
    ),
    path(
        "<int:pk>/topics/<str:name>/delete/",
        topics.TopicActionView.as_view(action="delete"),
        name="topic_delete",
    ),
    path(
        "<int:pk>/topics/<str:name>/messages/",
        topics.TopicMessagesView.as_view(),
        name="topic_messages",
    ),
    path(
        "<int:pk>/consumer-groups/", consumer_groups.ConsumerGroupListView.as_view(), name="groups"
    ),
    # A group id may contain "/" (Kafka allows any characters): `path`, with the action routes
    # first, so "a/b/delete/" is the delete action of group "a/b".
    path(
        "<int:pk>/consumer-groups/<path:group>/reset-offsets/",
        consumer_groups.ConsumerGroupActionView.as_view(action="reset"),
        name="group_reset",
    ),
    path(
        "<int:pk>/consumer-groups/<path:group>/delete/",
        consumer_groups.ConsumerGroupActionView.as_view(action="delete"),
        name="group_delete",
    ),
    path(
        "<int:pk>/consumer-groups/<path:group>/",
        consumer_groups.ConsumerGroupDetailView.as_view(),
        name="group_detail",
    ),
    # Access keys, policies, ACLs and the network allow-list (issue 5)
    path("<int:pk>/access/", access.AccessView.as_view(), name="access"),
    path("<int:pk>/access/keys/new/", access.AccessKeyCreateView.as_view(), name="key_create"),
    path("<int:pk>/access/network/", access.AllowedIpsView.as_view(), name="allowed_ips"),
    path(
        "<int:pk>/access/keys/<int:key_id>/",
        access.AccessKeyView.as_view(),
        name="key_detail",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/rotate/",
        access.AccessKeyRotateView.as_view(),
        name="key_rotate",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/revoke/",
        access.AccessKeyRevokeView.as_view(),
        name="key_revoke",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/policy/",
        access.AccessKeyPolicySaveView.as_view(),
        name="key_policy",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/policy/preview/",
        access.AccessKeyPolicyPreviewView.as_view(),
        name="key_policy_preview",
    ),
    path("<int:pk>/acls/", access.AclListView.as_view(), name="acls"),
    path("<int:pk>/acls/add/", access.AclAddView.as_view(), name="acl_add"),
    path(
        "<int:pk>/acls/<int:binding_id>/remove/",
        access.AclRemoveView.as_view(),
        name="acl_remove",
    ),
    path(
        "<int:pk>/throughput/",
        throughput.ClusterThroughputView.as_view(),
        name="throughput",
    ),
    path(
        "<int:pk>/throughput/topics/<str:topic>/",
        throughput.TopicThroughputView.as_view(),
        name="topic_throughput",
    ),
    # Managed Kafka Connect (issue 19)
    path("<int:pk>/connectors/", connectors.ConnectorListView.as_view(), name="connectors"),
    path(
        "<int:pk>/connectors/new/",
        connectors.ConnectorCatalogueView.as_view(),
        name="connector_catalogue",
    ),
    path(
        "<int:pk>/connectors/new/<slug:plugin>/",
        connectors.ConnectorCreateView.as_view(),
        name="connector_create",
    ),
    path(
        "<int:pk>/connectors/<slug:name>/",
        connectors.ConnectorDetailView.as_view(),
        name="connector_detail",
    ),
    path(
        "<int:pk>/connectors/<slug:name>/edit/",
        connectors.ConnectorEditView.as_view(),
        name="connector_edit",
    ),
    *(
        path(
            f"<int:pk>/connectors/<slug:name>/{action}/",
            connectors.ConnectorActionView.as_view(action=action),
            name=f"connector_{action}",
        )
        for action in ("pause", "resume", "restart", "delete")
    ),
]
