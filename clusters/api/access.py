"""API of access keys, policies and ACLs: `/api/v1/clusters/{id}/keys/…`, `/acls/`.

Thin views: input serializers shape data, `clusters.services.access` does the work (and the
audit). Secrets appear only in the answers to create and rotate.
"""

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clusters.models import AccessKey, Cluster, ManualAclBinding, PolicyTemplate
from clusters.selectors import access_key_get, access_key_list, cluster_get, manual_acl_get
from clusters.services.access.acls import cluster_acl_rows, manual_acl_add, manual_acl_remove
from clusters.services.access.keys import (
    access_key_create,
    access_key_revoke,
    access_key_rotate,
    access_key_set_policy,
    key_quotas,
    preview_policy,
)
from clusters.services.access.policy import short_resource_name
from clusters.services.access.reconcile import key_policy_document
from console.api.mixins import TeamScopedAPIMixin
from console.permissions import Action

# --- serializers ------------------------------------------------------------------------------

MAX_ID = 2**63 - 1  # a database id; past it a lookup must be a 400, not an overflow


class KeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    username = serializers.CharField()
    policy_template = serializers.CharField()
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    state = serializers.SerializerMethodField()

    def get_state(self, key) -> str:
        return "revoked" if key.revoked_at else "active"


class SnippetOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    text = serializers.CharField()


class KeyWithSecretOutput(KeyOutput):
    secret = serializers.CharField(help_text="Shown once; Skiff keeps no copy.")
    snippets = SnippetOutput(many=True)


class QuotaOutput(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    expected = serializers.FloatField(allow_null=True, help_text="What Skiff sets.")
    current = serializers.FloatField(allow_null=True, help_text="Read from the broker now.")


class KeyDetailOutput(KeyOutput):
    policy_document = serializers.JSONField()
    quotas = QuotaOutput(many=True)


class KeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    policy_template = serializers.CharField(default=PolicyTemplate.PRODUCE_CONSUME)
    policy_document = serializers.JSONField(required=False, allow_null=True)


class PolicyInput(serializers.Serializer):
    policy_template = serializers.CharField(
        default=PolicyTemplate.CUSTOM, help_text=", ".join(PolicyTemplate.values)
    )
    policy_document = serializers.JSONField(required=False, allow_null=True)


class BindingOutput(serializers.Serializer):
    principal = serializers.CharField()
    resource_type = serializers.CharField()
    resource_name = serializers.CharField(help_text="Name on the wire.")
    short_name = serializers.CharField()
    pattern_type = serializers.CharField()
    operation = serializers.CharField()
    permission = serializers.CharField()
    host = serializers.CharField()


class PolicyOutput(serializers.Serializer):
    policy_template = serializers.CharField()
    policy_document = serializers.JSONField()
    bindings = BindingOutput(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    applied = serializers.BooleanField(help_text="False for ?dry_run=1.")


class AclRowOutput(BindingOutput):
    key_id = serializers.IntegerField()
    key_name = serializers.CharField()
    source = serializers.CharField(
        help_text="policy, manual, drift (on the cell, removed at the next reconcile) or "
        "missing (restored at the next reconcile)"
    )
    manual_id = serializers.IntegerField(allow_null=True)


class AclListOutput(serializers.Serializer):
    results = AclRowOutput(many=True)
    problems = serializers.ListField(child=serializers.CharField())


class AclCreateInput(serializers.Serializer):
    key_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    resource_type = serializers.ChoiceField(choices=ManualAclBinding.ResourceType.values)
    name = serializers.CharField(
        allow_blank=True, default="", help_text="Short name; end with '*' for a prefix."
    )
    pattern_type = serializers.ChoiceField(
        choices=ManualAclBinding.PatternType.values, default="LITERAL"
    )
    operation = serializers.CharField()
    permission = serializers.ChoiceField(
        choices=ManualAclBinding.Permission.values, default="ALLOW"
    )


class ManualAclOutput(serializers.Serializer):
    id = serializers.IntegerField()
    key_id = serializers.IntegerField()
    resource_type = serializers.CharField()
    name = serializers.CharField()
    pattern_type = serializers.CharField()
    operation = serializers.CharField()
    permission = serializers.CharField()


class AclDeleteInput(serializers.Serializer):
    id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The manual binding's id (manual_id in the list)."
    )


def binding_dict(binding, prefix: str) -> dict:
    return {
        "principal": binding.principal,
        "resource_type": binding.resource_type,
        "resource_name": binding.resource_name,
        "short_name": short_resource_name(binding, prefix),
        "pattern_type": binding.pattern_type,
        "operation": binding.operation,
        "permission": binding.permission,
        "host": binding.host,
    }


# --- views ------------------------------------------------------------------------------------


class ClusterAccessAPIView(TeamScopedAPIMixin, GenericAPIView):
    # Read by the schema generator and the team mixin; get_cluster() uses the selector.
    queryset = Cluster.objects.live().select_related("team", "cell")
    required_action = Action.ACCESS_VIEW

    def get_cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is None:
            cached = self._cluster = cluster_get(team=self.team, pk=self.kwargs["pk"])
        return cached

    def get_key(self, cluster: Cluster) -> AccessKey:
        cached = getattr(self, "_key", None)
        if cached is None or cached.cluster_id != cluster.pk:
            cached = self._key = access_key_get(cluster=cluster, key_id=self.kwargs["key_id"])
        return cached

    def lookup_url_objects(self) -> None:
        # Another team's cluster, or a key of another cluster: 404 before the body is read.
        cluster = self.get_cluster()
        if "key_id" in self.kwargs:
            self.get_key(cluster)


class KeyListAPIView(ClusterAccessAPIView):
    required_actions = {"POST": Action.ACCESS_MANAGE}
    serializer_class = KeyOutput

    @extend_schema(
        parameters=[OpenApiParameter("include_revoked", bool)],
        responses={200: KeyOutput(many=True)},
        operation_id="clusters_keys_list",
    )
    def get(self, request, pk):
        include_revoked = request.query_params.get("include_revoked") in ("1", "true")
        keys = access_key_list(cluster=self.get_cluster(), active_only=not include_revoked)
        page = self.paginate_queryset(keys)  # the documented page object, like every list
        return self.get_paginated_response(KeyOutput(page, many=True).data)

    @extend_schema(
        request=KeyCreateInput,
        responses={201: KeyWithSecretOutput},
        operation_id="clusters_keys_create",
    )
    def post(self, request, pk):
        data = KeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = access_key_create(cluster=self.get_cluster(), **data.validated_data)
        return Response(_with_secret(created), status=status.HTTP_201_CREATED)


def _with_secret(created) -> dict:
    body = dict(KeyOutput(created.key).data)
    body["secret"] = created.secret
    body["snippets"] = [{"key": s.key, "label": s.label, "text": s.text} for s in created.snippets]
    return body


class KeyDetailAPIView(ClusterAccessAPIView):
    required_actions = {"DELETE": Action.ACCESS_MANAGE}
    serializer_class = KeyDetailOutput

    @extend_schema(responses={200: KeyDetailOutput}, operation_id="clusters_keys_retrieve")
    def get(self, request, pk, key_id):
        key = self.get_key(self.get_cluster())
        body = dict(KeyOutput(key).data)
        body["policy_document"] = key_policy_document(key)
        body["quotas"] = [r.__dict__ for r in key_quotas(key)] if key.revoked_at is None else []
        return Response(body)

    @extend_schema(
        responses={200: KeyOutput},
        operation_id="clusters_keys_revoke",
        description="Revoke: the SCRAM user is deleted and its ACLs and quotas removed.",
    )
    def delete(self, request, pk, key_id):
        key = access_key_revoke(key=self.get_key(self.get_cluster()))
        return Response(KeyOutput(key).data)


class KeyRotateAPIView(ClusterAccessAPIView):
    required_action = Action.ACCESS_MANAGE
    serializer_class = KeyWithSecretOutput

    @extend_schema(
        request=None, responses={200: KeyWithSecretOutput}, operation_id="clusters_keys_rotate"
    )
    def post(self, request, pk, key_id):
        rotated = access_key_rotate(key=self.get_key(self.get_cluster()))
        return Response(_with_secret(rotated))


class KeyPolicyAPIView(ClusterAccessAPIView):
    required_actions = {"PUT": Action.ACCESS_MANAGE}
    serializer_class = PolicyOutput

    @extend_schema(responses={200: PolicyOutput}, operation_id="clusters_keys_policy_retrieve")
    def get(self, request, pk, key_id):

        key = self.get_key(self.get_cluster())
        if key.revoked_at is not None:
            raise ValidationError("This access key is revoked.")
        compiled = preview_policy(
            key.cluster,
            username=key.username,
            template=PolicyTemplate.CUSTOM,
            document=key_policy_document(key),
        )
        return Response(self._body(key, key.policy_template, compiled, applied=True))

    @extend_schema(
        request=PolicyInput,
        parameters=[
            OpenApiParameter(
                "dry_run", bool, description="1: validate and compile only, change nothing."
            )
        ],
        responses={200: PolicyOutput},
        operation_id="clusters_keys_policy_update",
    )
    def put(self, request, pk, key_id):
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = self.get_key(self.get_cluster())
        dry_run = request.query_params.get("dry_run") in ("1", "true")
        compiled = access_key_set_policy(key=key, dry_run=dry_run, **data.validated_data)
        return Response(
            self._body(key, data.validated_data["policy_template"], compiled, applied=not dry_run)
        )

    def _body(self, key, template, compiled, *, applied):
        prefix = key.cluster.wire_prefix
        return {
            "policy_template": template,
            "policy_document": compiled.document,
            "bindings": [binding_dict(b, prefix) for b in compiled.bindings],
            "warnings": compiled.warnings,
            "applied": applied,
        }


class ClusterAclAPIView(ClusterAccessAPIView):
    required_actions = {"POST": Action.ACCESS_MANAGE, "DELETE": Action.ACCESS_MANAGE}
    serializer_class = AclListOutput

    @extend_schema(responses={200: AclListOutput}, operation_id="clusters_acls_list")
    def get(self, request, pk):
        cluster = self.get_cluster()
        rows, problems = cluster_acl_rows(cluster)
        prefix = cluster.wire_prefix
        return Response(
            {
                "results": [
                    {
                        **binding_dict(r.binding, prefix),
                        "key_id": r.key.pk,
                        "key_name": r.key.name,
                        "source": r.source,
                        "manual_id": r.manual_id,
                    }
                    for r in rows
                ],
                "problems": problems,
            }
        )

    @extend_schema(
        request=AclCreateInput,
        responses={201: ManualAclOutput},
        operation_id="clusters_acls_create",
    )
    def post(self, request, pk):
        data = AclCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        cluster = self.get_cluster()
        try:
            key = access_key_get(cluster=cluster, key_id=values.pop("key_id"))
        except Http404:
            raise ValidationError({"key_id": "No such access key in this cluster."}) from None
        created = manual_acl_add(key=key, **values)
        return Response(_manual(created[0]), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AclDeleteInput,
        parameters=[OpenApiParameter("id", int, description="Or give the id in the body.")],
        responses={204: None},
        operation_id="clusters_acls_delete",
    )
    def delete(self, request, pk):
        raw = request.query_params.get("id") or (request.data or {}).get("id")
        data = AclDeleteInput(data={"id": raw})
        data.is_valid(raise_exception=True)
        cluster = self.get_cluster()
        binding = manual_acl_get(cluster=cluster, binding_id=data.validated_data["id"])
        manual_acl_remove(binding=binding)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _manual(m: ManualAclBinding) -> dict:
    return {
        "id": m.pk,
        "key_id": m.key_id,
        "resource_type": m.resource_type,
        "name": m.name,
        "pattern_type": m.pattern_type,
        "operation": m.operation,
        "permission": m.permission,
    }
