from django.urls import path

from clusters import topic_views, views, views_access, views_throughput

app_name = "clusters"

urlpatterns = [
    path("", views.ClusterListView.as_view(), name="list"),
    path("new/", views.ClusterCreateStartView.as_view(), name="create"),
    path("new/<uuid:draft_id>/<slug:step>/", views.ClusterWizardView.as_view(), name="wizard"),
    path("<int:pk>/", views.ClusterDetailView.as_view(), name="detail"),
    path("<int:pk>/status/", views.ClusterStatusView.as_view(), name="status"),
    path("<int:pk>/retry/", views.ClusterRetryView.as_view(), name="retry"),
    path("<int:pk>/delete/", views.ClusterDeleteView.as_view(), name="delete"),
    path("<int:pk>/ca.pem", views.ClusterCaView.as_view(), name="ca"),
    # Topics, consumer groups and messages (issue 4)
    path("<int:pk>/topics/", topic_views.TopicListView.as_view(), name="topics"),
    path("<int:pk>/topics/new/", topic_views.TopicCreateView.as_view(), name="topic_create"),
    path(
        "<int:pk>/topics/<str:name>/",
        topic_views.TopicDetailView.as_view(),
        name="topic_detail",
    ),
    path(
        "<int:pk>/topics/<str:name>/configs/",
        topic_views.TopicActionView.as_view(action="configs"),
        name="topic_configs",
    ),
    path(
        "<int:pk>/topics/<str:name>/partitions/",
        topic_views.TopicActionView.as_view(action="partitions"),
        name="topic_partitions",
    ),
    path(
        "<int:pk>/topics/<str:name>/purge/",
        topic_views.TopicActionView.as_view(action="purge"),
        name="topic_purge",
    ),
    path(
        "<int:pk>/topics/<str:name>/delete/",
        topic_views.TopicActionView.as_view(action="delete"),
        name="topic_delete",
    ),
    path(
        "<int:pk>/topics/<str:name>/messages/",
        topic_views.TopicMessagesView.as_view(),
        name="topic_messages",
    ),
    path("<int:pk>/consumer-groups/", topic_views.ConsumerGroupListView.as_view(), name="groups"),
    path(
        "<int:pk>/consumer-groups/<str:group>/",
        topic_views.ConsumerGroupDetailView.as_view(),
        name="group_detail",
    ),
    path(
        "<int:pk>/consumer-groups/<str:group>/reset-offsets/",
        topic_views.ConsumerGroupActionView.as_view(action="reset"),
        name="group_reset",
    ),
    path(
        "<int:pk>/consumer-groups/<str:group>/delete/",
        topic_views.ConsumerGroupActionView.as_view(action="delete"),
        name="group_delete",
    ),
    # Access keys, policies, ACLs and the network allow-list (issue 5)
    path("<int:pk>/access/", views_access.AccessView.as_view(), name="access"),
    path(
        "<int:pk>/access/keys/new/", views_access.AccessKeyCreateView.as_view(), name="key_create"
    ),
    path("<int:pk>/access/network/", views_access.AllowedIpsView.as_view(), name="allowed_ips"),
    path(
        "<int:pk>/access/keys/<int:key_id>/",
        views_access.AccessKeyView.as_view(),
        name="key_detail",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/rotate/",
        views_access.AccessKeyRotateView.as_view(),
        name="key_rotate",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/revoke/",
        views_access.AccessKeyRevokeView.as_view(),
        name="key_revoke",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/policy/",
        views_access.AccessKeyPolicySaveView.as_view(),
        name="key_policy",
    ),
    path(
        "<int:pk>/access/keys/<int:key_id>/policy/preview/",
        views_access.AccessKeyPolicyPreviewView.as_view(),
        name="key_policy_preview",
    ),
    path("<int:pk>/acls/", views_access.AclListView.as_view(), name="acls"),
    path("<int:pk>/acls/add/", views_access.AclAddView.as_view(), name="acl_add"),
    path(
        "<int:pk>/acls/<int:binding_id>/remove/",
        views_access.AclRemoveView.as_view(),
        name="acl_remove",
    ),
    path(
        "<int:pk>/throughput/",
        views_throughput.ClusterThroughputView.as_view(),
        name="throughput",
    ),
    path(
        "<int:pk>/throughput/topics/<str:topic>/",
        views_throughput.TopicThroughputView.as_view(),
        name="topic_throughput",
    ),
]
