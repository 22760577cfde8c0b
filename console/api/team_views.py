"""Team administration API: members, invitations, API tokens and the audit log."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from console.api.mixins import TeamScopedAPIMixin
from console.api.permissions import api_team_context
from console.api.serializers import (
    ApiTokenCreatedOutput,
    ApiTokenCreateInput,
    ApiTokenOutput,
    AuditEventOutput,
    InvitationCreatedOutput,
    InvitationCreateInput,
    InvitationOutput,
    MemberOutput,
    MemberRoleInput,
)
from console.forms import AuditFilterForm
from console.models import ApiToken, AuditEvent, Invitation, Membership
from console.permissions import Action
from console.selectors import api_token_list, audit_event_list
from console.services.invitations import invitation_create, invitation_revoke
from console.services.members import member_remove, member_role_change, team_ownership_transfer
from console.services.teams import api_token_create, api_token_revoke


class TeamMemberViewSet(
    TeamScopedAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Members of the team with their role. Owners and admins manage them."""

    queryset = Membership.objects.select_related("user").order_by("user__email")
    serializer_class = MemberOutput
    required_action = Action.MEMBER_VIEW
    required_actions = {"PATCH": Action.MEMBER_MANAGE, "DELETE": Action.MEMBER_MANAGE}

    @property
    def caller(self) -> Membership:
        return api_team_context(self.request).membership

    @extend_schema(request=MemberRoleInput, responses=MemberOutput)
    def partial_update(self, request, pk=None):
        """Change a member's role (only an owner grants or takes away 'owner')."""
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = member_role_change(
            membership=self.get_object(), role=data.validated_data["role"], by=self.caller
        )
        return Response(MemberOutput(membership).data)

    def destroy(self, request, pk=None):
        """Remove a member (yourself: leave). The team's last owner cannot be removed."""
        member_remove(membership=self.get_object(), by=self.caller)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=MemberOutput)
    @action(
        detail=True,
        methods=["post"],
        url_path="transfer-ownership",
        required_actions={"POST": Action.TEAM_TRANSFER},
    )
    def transfer_ownership(self, request, pk=None):
        """Make this member an owner; the calling owner becomes an admin."""
        membership = team_ownership_transfer(team=self.team, by=self.caller, to=self.get_object())
        return Response(MemberOutput(membership).data)


class TeamInvitationViewSet(
    TeamScopedAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Pending invitations of the team (single-use links that expire)."""

    queryset = Invitation.objects.select_related("invited_by")
    serializer_class = InvitationOutput
    required_action = Action.MEMBER_MANAGE

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.pending() if self.action == "list" else queryset

    @extend_schema(request=InvitationCreateInput, responses={201: InvitationCreatedOutput})
    def create(self, request):
        """Invite someone by email; the link is emailed and returned once."""
        data = InvitationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = invitation_create(
            team=self.team,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            by=api_team_context(request).membership,
            base_url=request.build_absolute_uri("/"),
        )
        body = InvitationOutput(created.invitation).data
        body["link"] = created.link
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        """Revoke a pending invitation: its link stops working."""
        invitation_revoke(invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(
    TeamScopedAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your API tokens in this team (owners and admins see and revoke every member's)."""

    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenOutput
    required_action = Action.TOKEN_MANAGE

    def get_queryset(self):
        return api_token_list(context=api_team_context(self.request), user=self.request.user)

    @extend_schema(request=ApiTokenCreateInput, responses={201: ApiTokenCreatedOutput})
    def create(self, request):
        """Create a token acting as you in this team; the token is returned once."""
        data = ApiTokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = api_token_create(
            user=request.user,
            team=self.team,
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
        )
        body = ApiTokenOutput(token).data
        body["token"] = raw
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        """Revoke a token; requests that use it get 401 from now on."""
        api_token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


AUDIT_FILTERS = [
    OpenApiParameter("actor", str, description="Part of the actor (email or token name)"),
    OpenApiParameter("action", str, description='Exact action, or a prefix ending in "."'),
    OpenApiParameter("target", str, description="Object: part of its name, its id or its type"),
    OpenApiParameter("since", str, description="First day (YYYY-MM-DD, UTC), included"),
    OpenApiParameter("until", str, description="Last day (YYYY-MM-DD, UTC), included"),
]


class AuditEventViewSet(
    TeamScopedAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The team's audit log, newest first. Read-only: events are never edited."""

    queryset = AuditEvent.objects.select_related("actor_user")
    serializer_class = AuditEventOutput
    required_action = Action.AUDIT_VIEW

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        form = AuditFilterForm(self.request.query_params)
        if not form.is_valid():
            raise DRFValidationError(form.errors)
        return audit_event_list(team=self.team, **form.cleaned_data).select_related("actor_user")

    @extend_schema(parameters=AUDIT_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
