from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from clusters.api.serializers import (
    ClusterCreatedOutput,
    ClusterCreateInput,
    ClusterOutput,
    ClusterUpdateInput,
    ClusterWaitQuery,
)
from clusters.downloads import cluster_ca_response
from clusters.models import Cluster
from clusters.services.clusters import (
    ClusterSpec,
    cluster_create,
    cluster_delete,
    cluster_update_tags,
)
from clusters.services.state_waits import settled, wait_while_transitional
from console.api.mixins import TeamScopedAPIMixin
from console.permissions import Action


class ClusterViewSet(
    TeamScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The team's serverless clusters."""

    queryset = Cluster.objects.live().select_related("cell", "team").order_by("name")
    serializer_class = ClusterOutput
    required_actions = {
        "POST": Action.CLUSTER_MANAGE,
        "PATCH": Action.CLUSTER_MANAGE,
        "DELETE": Action.CLUSTER_MANAGE,
    }
    required_action = Action.CLUSTER_VIEW

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait",
                OpenApiTypes.FLOAT,
                description=(
                    "Seconds (at most 60) to hold the answer while the cluster is CREATING or "
                    "DELETING: it comes as soon as the cluster is ACTIVE, FAILED or deleted "
                    "(a 404), or a deletion stopped with a reason; else, after the wait, "
                    "with the cluster as it is. Instead of polling."
                ),
            )
        ],
        responses={200: ClusterOutput},
    )
    def retrieve(self, request, pk=None):
        # Looked up before the view (lookup_url_objects): another team's cluster is a 404
        # before any wait.
        cluster = self.url_object
        query = ClusterWaitQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        wait = query.validated_data.get("wait")
        if wait and not settled(cluster.state, cluster.state_reason):
            wait_while_transitional(cluster_id=cluster.pk, timeout=wait)
            cluster = self.get_object()  # a cluster deleted meanwhile is a 404 now
        return Response(ClusterOutput(cluster).data)

    @extend_schema(request=ClusterCreateInput, responses={201: ClusterCreatedOutput})
    def create(self, request):
        data = ClusterCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        access = values.get("access") or {}
        network = values.get("network") or {}
        created = cluster_create(
            team=self.team,
            user=request.user,
            spec=ClusterSpec(
                name=values["name"],
                tags=values.get("tags") or {},
                policy_template=access.get("policy_template", "produce_consume"),
                policy_document=access.get("policy_document"),
                allowed_client_ips=network.get("allowed_client_ips") or [],
            ),
        )
        body = ClusterOutput(created.cluster).data
        body["initial_key"] = {"username": created.initial_key.username, "secret": created.secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterUpdateInput, responses={200: ClusterOutput})
    def partial_update(self, request, pk=None):
        """Replace the cluster's tags, validated as at creation (the allowed client IPs change
        on the console's Access tab)."""
        data = ClusterUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = cluster_update_tags(cluster=self.get_object(), tags=data.validated_data["tags"])
        return Response(ClusterOutput(cluster).data)

    @extend_schema(responses={202: ClusterOutput})
    def destroy(self, request, pk=None):
        cluster = cluster_delete(cluster=self.get_object())
        return Response(ClusterOutput(cluster).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.BINARY})
    def ca_pem(self, request, pk=None):
        """The platform CA certificate that clients use to verify the cell's TLS listener."""
        return cluster_ca_response(self.get_object())
