from rest_framework import viewsets

from clusters.api.serializers import ClusterOutput
from clusters.models import Cluster
from console.api.mixins import TeamScopedAPIMixin
from console.permissions import Action


class ClusterViewSet(TeamScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The team's serverless clusters (creation and deletion arrive with provisioning)."""

    queryset = Cluster.objects.select_related("cell").order_by("name")
    serializer_class = ClusterOutput
    required_action = Action.CLUSTER_VIEW
