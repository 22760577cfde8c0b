"""Pages of the cluster's Access tab: keys, the policy editor, quotas, ACLs, allow-list."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from clusters.models import AccessKey, ManualAclBinding, PolicyTemplate
from clusters.services.access.acls import (
    MANUAL_OPERATIONS,
    cluster_acl_rows,
    manual_acl_add,
    manual_acl_remove,
    manual_acls_add,
    manual_template_entries,
)
from clusters.services.access.keys import (
    access_key_create,
    access_key_revoke,
    access_key_rotate,
    access_key_set_policy,
    cluster_set_allowed_client_ips,
    key_quotas,
    preview_policy,
)
from clusters.services.access.policy import (
    TEMPLATES,
    PolicyInvalid,
    short_resource_name,
    template_policy,
)
from clusters.services.access.reconcile import key_policy_document
from clusters.views.clusters import team_cluster
from console.access import TeamViewMixin
from console.permissions import Action
from fleet.kafka.errors import KafkaGatewayError


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for messages_ in exc.message_dict.values() for m in messages_]
    return exc.messages


def _team_key(view, cluster, key_id) -> AccessKey:
    try:
        return cluster.access_keys.select_related("cluster__team", "cluster__cell").get(pk=key_id)
    except AccessKey.DoesNotExist as exc:
        raise Http404("No such access key in this cluster.") from exc


def _template_choices():
    return [(value, label) for value, label in PolicyTemplate.choices]


def _template_documents(cluster) -> dict[str, str]:
    """Each template's policy for this cluster, for the editor's 'Start from a template'."""
    return {key: json.dumps(template_policy(key, cluster), indent=2) for key in TEMPLATES}


# --- the Access tab -------------------------------------------------------------------------


def render_access(request, cluster, *, created=None, status=200, errors=None, form=None):
    keys = cluster.access_keys.order_by("revoked_at", "created_at")
    context = {
        "nav": "clusters",
        "cluster": cluster,
        "keys": keys,
        "created": created,
        "errors": errors or [],
        "form": form or {"policy_template": PolicyTemplate.PRODUCE_CONSUME},
        "template_choices": _template_choices(),
        "templates": TEMPLATES,
        "can_manage": request.team_context.allows(Action.ACCESS_MANAGE),
        "allowed_ips_text": "\n".join(cluster.allowed_client_ips),
    }
    return render(request, "clusters/access.html", context, status=status)


class AccessView(TeamViewMixin, View):
    required_action = Action.ACCESS_VIEW

    def get(self, request, pk):
        return render_access(request, team_cluster(self, pk))


class AccessKeyCreateView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk):
        cluster = team_cluster(self, pk)
        form = {
            "name": request.POST.get("name", ""),
            "description": request.POST.get("description", ""),
            "policy_template": request.POST.get("policy_template", ""),
        }
        try:
            created = access_key_create(cluster=cluster, **form)
        except ValidationError as exc:
            return render_access(request, cluster, status=400, errors=_errors(exc), form=form)
        except KafkaGatewayError as exc:
            return render_access(request, cluster, status=503, errors=[exc.message], form=form)
        return render_access(request, cluster, created=created, status=201)


class AccessKeyRotateView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, key_id):
        cluster = team_cluster(self, pk)
        key = _team_key(self, cluster, key_id)
        try:
            rotated = access_key_rotate(key=key)
        except ValidationError as exc:
            return render_access(request, cluster, status=400, errors=_errors(exc))
        except KafkaGatewayError as exc:
            return render_access(request, cluster, status=503, errors=[exc.message])
        return render_access(request, cluster, created=rotated)


class AccessKeyRevokeView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, key_id):
        cluster = team_cluster(self, pk)
        key = _team_key(self, cluster, key_id)
        try:
            access_key_revoke(key=key)
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
        except KafkaGatewayError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Access key '{key.name}' is revoked.")
        return redirect("clusters:access", pk=pk)


class AllowedIpsView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk):
        cluster = team_cluster(self, pk)
        try:
            cluster_set_allowed_client_ips(cluster=cluster, ips=request.POST.get("ips", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
        except KafkaGatewayError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Allowed client addresses saved and applied to every key.")
        return redirect("clusters:access", pk=pk)


# --- one key: policy editor and quotas ------------------------------------------------------


def render_key(
    request,
    cluster,
    key,
    *,
    template=None,
    document_text=None,
    status=200,
    preview=None,
    problems=None,
):
    quotas, quota_error = [], None
    if key.revoked_at is None and cluster.cell_id:
        try:
            quotas = key_quotas(key)
        except (KafkaGatewayError, OSError) as exc:
            quota_error = getattr(exc, "message", str(exc))
    if document_text is None:
        document_text = json.dumps(key_policy_document(key), indent=2)
    context = {
        "nav": "clusters",
        "cluster": cluster,
        "key": key,
        "quotas": quotas,
        "quota_error": quota_error,
        "template": template or key.policy_template,
        "template_choices": _template_choices(),
        "document_text": document_text,
        "template_documents": _template_documents(cluster),
        "preview": preview,
        "problems": problems or [],
        "can_manage": request.team_context.allows(Action.ACCESS_MANAGE),
    }
    return render(request, "clusters/access_key.html", context, status=status)


def _preview_rows(compiled, prefix):
    return [{"binding": b, "short_name": short_resource_name(b, prefix)} for b in compiled.bindings]


class AccessKeyView(TeamViewMixin, View):
    required_action = Action.ACCESS_VIEW

    def get(self, request, pk, key_id):
        cluster = team_cluster(self, pk)
        return render_key(request, cluster, _team_key(self, cluster, key_id))


def _policy_input(request):
    template = request.POST.get("policy_template", PolicyTemplate.CUSTOM)
    text = request.POST.get("policy_document", "")
    return template, text


class AccessKeyPolicyPreviewView(TeamViewMixin, View):
    """htmx: the exact ACL bindings the editor's policy compiles to, or why it is invalid."""

    required_action = Action.ACCESS_VIEW

    def post(self, request, pk, key_id):
        cluster = team_cluster(self, pk)
        key = _team_key(self, cluster, key_id)
        template, text = _policy_input(request)
        context = {"cluster": cluster, "key": key}
        try:
            compiled = preview_policy(
                cluster,
                username=key.username,
                template=template,
                document=text if template == PolicyTemplate.CUSTOM else None,
            )
        except ValidationError as exc:
            context["problems"] = _errors(exc)
        else:
            context["preview"] = {
                "rows": _preview_rows(compiled, cluster.wire_prefix),
                "warnings": compiled.warnings,
            }
        return render(request, "clusters/partials/_policy_preview.html", context)


class AccessKeyPolicySaveView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, key_id):
        cluster = team_cluster(self, pk)
        key = _team_key(self, cluster, key_id)
        template, text = _policy_input(request)
        try:
            compiled = access_key_set_policy(
                key=key,
                policy_template=template,
                policy_document=text if template == PolicyTemplate.CUSTOM else None,
            )
        except (PolicyInvalid, ValidationError) as exc:
            return render_key(
                request,
                cluster,
                key,
                template=template,
                document_text=text,
                status=400,
                problems=_errors(exc),
            )
        except KafkaGatewayError as exc:
            return render_key(
                request,
                cluster,
                key,
                template=template,
                document_text=text,
                status=503,
                problems=[exc.message],
            )
        messages.success(
            request, f"Policy saved: {len(compiled.bindings)} ACL bindings are on the cell."
        )
        return redirect("clusters:key_detail", pk=pk, key_id=key.pk)


# --- ACLs -----------------------------------------------------------------------------------


def render_acls(request, cluster, *, status=200, errors=None):
    rows, problems, read_error = [], [], None
    if cluster.cell_id:
        try:
            rows, problems = cluster_acl_rows(cluster)
        except (KafkaGatewayError, OSError) as exc:
            read_error = getattr(exc, "message", str(exc))
    context = {
        "nav": "clusters",
        "cluster": cluster,
        "rows": rows,
        "problems": problems,
        "read_error": read_error,
        "errors": errors or [],
        "keys": cluster.access_keys.filter(revoked_at__isnull=True).order_by("name"),
        "resource_types": ManualAclBinding.ResourceType.choices,
        "operations": sorted({op for ops in MANUAL_OPERATIONS.values() for op in ops}),
        "can_manage": request.team_context.allows(Action.ACCESS_MANAGE),
    }
    return render(request, "clusters/acls.html", context, status=status)


class AclListView(TeamViewMixin, View):
    required_action = Action.ACCESS_VIEW

    def get(self, request, pk):
        return render_acls(request, team_cluster(self, pk))


class AclAddView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk):
        cluster = team_cluster(self, pk)
        key = cluster.access_keys.filter(
            pk=request.POST.get("key") or 0, revoked_at__isnull=True
        ).first()
        try:
            if key is None:
                raise ValidationError("Choose one of this cluster's active keys.")
            if request.POST.get("kind"):
                manual_acls_add(
                    key=key,
                    entries=manual_template_entries(
                        request.POST["kind"],
                        topic=request.POST.get("topic", ""),
                        group=request.POST.get("group", ""),
                    ),
                )
            else:
                manual_acl_add(
                    key=key,
                    resource_type=request.POST.get("resource_type", ""),
                    name=request.POST.get("name", ""),
                    pattern_type=request.POST.get("pattern_type", "LITERAL"),
                    operation=request.POST.get("operation", ""),
                    permission=request.POST.get("permission", "ALLOW"),
                )
        except ValidationError as exc:
            return render_acls(request, cluster, status=400, errors=_errors(exc))
        except KafkaGatewayError as exc:
            return render_acls(request, cluster, status=503, errors=[exc.message])
        messages.success(request, "Manual bindings added and applied.")
        return redirect("clusters:acls", pk=pk)


class AclRemoveView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, binding_id):
        cluster = team_cluster(self, pk)
        binding = (
            ManualAclBinding.objects.filter(key__cluster=cluster, pk=binding_id)
            .select_related("key__cluster__team", "key__cluster__cell")
            .first()
        )
        if binding is None:
            raise Http404("No such manual binding in this cluster.")
        try:
            manual_acl_remove(binding=binding)
        except KafkaGatewayError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Manual binding removed from the cell.")
        return redirect("clusters:acls", pk=pk)
