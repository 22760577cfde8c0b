"""Pages of the cluster's Access tab: keys, the policy editor, quotas, ACLs, allow-list."""

import datetime as dt
import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from clusters.forms import AccessKeyCreateForm, AllowedIpsForm, KeyPolicyForm, ManualAclForm
from clusters.models import ManualAclBinding, PolicyTemplate
from clusters.selectors import access_key_get, access_key_list, cluster_get, manual_acl_get
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
    short_resource_name,
    template_policy,
)
from clusters.services.access.reconcile import key_policy_document
from console.access import TeamViewMixin
from console.errors import ApplicationError
from console.permissions import Action
from fleet.selectors import legacy_scram_failure


def _template_choices():
    return [(value, label) for value, label in PolicyTemplate.choices]


def _template_documents(cluster) -> dict[str, str]:
    """Each template's policy for this cluster, for the editor's 'Start from a template'."""
    return {key: json.dumps(template_policy(key, cluster), indent=2) for key in TEMPLATES}


# --- the Access tab -------------------------------------------------------------------------


def render_access(request, cluster, *, created=None, status=200, errors=None, form=None):
    keys = access_key_list(cluster=cluster, order_by=("revoked_at", "created_at"))
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
        return render_access(request, cluster_get(team=self.team, pk=pk))


class AccessKeyCreateView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        form = AccessKeyCreateForm(request.POST)
        try:
            created = access_key_create(cluster=cluster, **form.cleaned())
        except ApplicationError as exc:
            return render_access(
                request, cluster, status=exc.status, errors=exc.messages, form=form.values()
            )
        return render_access(request, cluster, created=created, status=201)


class AccessKeyRotateView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, key_id):
        cluster = cluster_get(team=self.team, pk=pk)
        key = access_key_get(cluster=cluster, key_id=key_id)
        try:
            rotated = access_key_rotate(key=key)
        except ApplicationError as exc:
            return render_access(request, cluster, status=exc.status, errors=exc.messages)
        return render_access(request, cluster, created=rotated)


class AccessKeyRevokeView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, key_id):
        cluster = cluster_get(team=self.team, pk=pk)
        key = access_key_get(cluster=cluster, key_id=key_id)
        access_key_revoke(key=key)  # an error: a page message (console.middleware)
        messages.success(request, f"Access key '{key.name}' is revoked.")
        return redirect("clusters:access", pk=pk)


class AllowedIpsView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        ips = AllowedIpsForm(request.POST).cleaned()["ips"]
        cluster_set_allowed_client_ips(cluster=cluster, ips=ips)  # errors: console.middleware
        messages.success(request, "Allowed client addresses saved and applied to every key.")
        return redirect("clusters:access", pk=pk)


# --- one key: policy editor and quotas ------------------------------------------------------


# An old-librdkafka SCRAM failure older than this is no longer shown on the key's page.
LEGACY_SCRAM_HINT_AGE = dt.timedelta(days=7)


def legacy_scram_hint(cluster, key) -> dict | None:
    """Why a client of this key sees "invalid credentials" when the brokers saw a librdkafka
    before 2.6.1 fail SCRAM with it lately (fleet/services/legacy_clients.py), and the way in
    (SASL/PLAIN where the cell offers it, as the kcat snippet decides)."""
    failure = legacy_scram_failure(cell_id=cluster.cell_id, username=key.username)
    if failure is None or failure.last_failed_at < timezone.now() - LEGACY_SCRAM_HINT_AGE:
        return None
    return {
        "failure": failure,
        "plain": cluster.cell is not None and cluster.cell.kind == "local",
        "bootstrap": cluster.bootstrap_servers,
    }


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
        except (ApplicationError, OSError) as exc:
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
        "legacy_scram": legacy_scram_hint(cluster, key) if key.revoked_at is None else None,
    }
    return render(request, "clusters/access_key.html", context, status=status)


def _preview_rows(compiled, prefix):
    return [{"binding": b, "short_name": short_resource_name(b, prefix)} for b in compiled.bindings]


class AccessKeyView(TeamViewMixin, View):
    required_action = Action.ACCESS_VIEW

    def get(self, request, pk, key_id):
        cluster = cluster_get(team=self.team, pk=pk)
        return render_key(request, cluster, access_key_get(cluster=cluster, key_id=key_id))


class AccessKeyPolicyPreviewView(TeamViewMixin, View):
    """htmx: the exact ACL bindings the editor's policy compiles to, or why it is invalid."""

    required_action = Action.ACCESS_VIEW

    def post(self, request, pk, key_id):
        cluster = cluster_get(team=self.team, pk=pk)
        key = access_key_get(cluster=cluster, key_id=key_id)
        form = KeyPolicyForm(request.POST)
        context = {"cluster": cluster, "key": key}
        try:
            compiled = preview_policy(
                cluster,
                username=key.username,
                template=form.cleaned()["policy_template"],
                document=form.document(),
            )
        except ApplicationError as exc:
            context["problems"] = exc.messages
        else:
            context["preview"] = {
                "rows": _preview_rows(compiled, cluster.wire_prefix),
                "warnings": compiled.warnings,
            }
        return render(request, "clusters/partials/_policy_preview.html", context)


class AccessKeyPolicySaveView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, key_id):
        cluster = cluster_get(team=self.team, pk=pk)
        key = access_key_get(cluster=cluster, key_id=key_id)
        form = KeyPolicyForm(request.POST)
        try:
            compiled = access_key_set_policy(
                key=key,
                policy_template=form.cleaned()["policy_template"],
                policy_document=form.document(),
            )
        except ApplicationError as exc:  # PolicyInvalid and ValidationFailed list every problem
            problems, status = exc.messages, exc.status
        else:
            messages.success(
                request, f"Policy saved: {len(compiled.bindings)} ACL bindings are on the cell."
            )
            return redirect("clusters:key_detail", pk=pk, key_id=key.pk)
        posted = form.values()
        return render_key(
            request,
            cluster,
            key,
            template=posted["policy_template"],
            document_text=posted["policy_document"],
            status=status,
            problems=problems,
        )


# --- ACLs -----------------------------------------------------------------------------------


def render_acls(request, cluster, *, status=200, errors=None):
    rows, problems, read_error = [], [], None
    if cluster.cell_id:
        try:
            rows, problems = cluster_acl_rows(cluster)
        except (ApplicationError, OSError) as exc:
            read_error = getattr(exc, "message", str(exc))
    context = {
        "nav": "clusters",
        "cluster": cluster,
        "rows": rows,
        "problems": problems,
        "read_error": read_error,
        "errors": errors or [],
        "keys": access_key_list(cluster=cluster, active_only=True, order_by=("name",)),
        "resource_types": ManualAclBinding.ResourceType.choices,
        "operations": sorted({op for ops in MANUAL_OPERATIONS.values() for op in ops}),
        "can_manage": request.team_context.allows(Action.ACCESS_MANAGE),
    }
    return render(request, "clusters/acls.html", context, status=status)


class AclListView(TeamViewMixin, View):
    required_action = Action.ACCESS_VIEW

    def get(self, request, pk):
        return render_acls(request, cluster_get(team=self.team, pk=pk))


class AclAddView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        try:
            data = ManualAclForm(request.POST, cluster=cluster).cleaned()
            if data["kind"]:
                entries = manual_template_entries(
                    data["kind"], topic=data["topic"], group=data["group"]
                )
                manual_acls_add(key=data["key"], entries=entries)
            else:
                manual_acl_add(
                    key=data["key"],
                    resource_type=data["resource_type"],
                    name=data["name"],
                    pattern_type=data["pattern_type"],
                    operation=data["operation"],
                    permission=data["permission"],
                )
        except ApplicationError as exc:
            return render_acls(request, cluster, status=exc.status, errors=exc.messages)
        messages.success(request, "Manual bindings added and applied.")
        return redirect("clusters:acls", pk=pk)


class AclRemoveView(TeamViewMixin, View):
    required_action = Action.ACCESS_MANAGE

    def post(self, request, pk, binding_id):
        cluster = cluster_get(team=self.team, pk=pk)
        binding = manual_acl_get(cluster=cluster, binding_id=binding_id)
        manual_acl_remove(binding=binding)  # an error: a page message (console.middleware)
        messages.success(request, "Manual binding removed from the cell.")
        return redirect("clusters:acls", pk=pk)
