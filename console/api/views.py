from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.permissions import TeamActionPermission, api_team_context
from console.permissions import ROLE_PERMISSIONS, Action


class CurrentTeamOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    user = serializers.EmailField()


class CurrentTeamAPIView(APIView):
    """The team this request acts for and what the caller's role may do in it."""

    permission_classes = [TeamActionPermission]
    required_action = Action.CLUSTER_VIEW

    @extend_schema(responses=CurrentTeamOutput)
    def get(self, request):
        context = api_team_context(request)
        data = {
            "id": context.team.id,
            "slug": context.team.slug,
            "name": context.team.name,
            "role": context.role,
            "permissions": sorted(ROLE_PERMISSIONS[context.role]),
            "user": request.user.email,
        }
        return Response(CurrentTeamOutput(data).data)
