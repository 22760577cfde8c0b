from rest_framework import serializers

from console.models import ApiToken, AuditEvent, Invitation, Membership, Role


class MemberOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    last_login = serializers.DateTimeField(source="user.last_login", allow_null=True)
    joined_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "last_login", "joined_at"]


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationOutput(serializers.ModelSerializer):
    invited_by = serializers.EmailField(source="invited_by.email", allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "created_at", "expires_at"]


class InvitationCreateInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationCreatedOutput(InvitationOutput):
    link = serializers.CharField(help_text="Shown once: the single-use link (also emailed).")

    class Meta(InvitationOutput.Meta):
        fields = [*InvitationOutput.Meta.fields, "link"]


class ApiTokenOutput(serializers.ModelSerializer):
    user = serializers.EmailField(source="user.email")
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "user",
            "key_hint",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked",
        ]

    def get_revoked(self, token: ApiToken) -> bool:
        return token.revoked_at is not None


class ApiTokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiTokenCreatedOutput(ApiTokenOutput):
    token = serializers.CharField(help_text="Shown once; only its hash is stored.")

    class Meta(ApiTokenOutput.Meta):
        fields = [*ApiTokenOutput.Meta.fields, "token"]


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_repr")
    actor_user = serializers.EmailField(source="actor_user.email", allow_null=True, default=None)
    actor_token_id = serializers.IntegerField(allow_null=True)
    object_type = serializers.CharField(source="target_type")
    object_id = serializers.CharField(source="target_id")
    object = serializers.CharField(source="target_repr")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "actor_user",
            "actor_token_id",
            "source_ip",
            "action",
            "object_type",
            "object_id",
            "object",
            "before",
            "after",
        ]
