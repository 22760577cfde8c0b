import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from clusters.downloads import cluster_ca_response
from clusters.forms import (
    ClusterDeleteForm,
    ClusterNameForm,
    ClusterSettingsForm,
    ClusterTypeForm,
    format_tags,
    parse_tags,
)
from clusters.models import Cluster, ClusterDraft, PolicyTemplate
from clusters.selectors import (
    access_key_list,
    cluster_draft_get,
    cluster_draft_open_get,
    cluster_get,
    cluster_list,
)
from clusters.services.clusters import (
    ClusterSpec,
    cluster_create,
    cluster_delete,
    cluster_retry,
    cluster_update_tags,
)
from clusters.services.snippets import client_setup
from console.access import TeamViewMixin
from console.errors import ApplicationError
from console.permissions import Action
from fleet import limits


class ClusterListView(TeamViewMixin, ListView):
    """Home: the current team's serverless clusters."""

    required_action = Action.CLUSTER_VIEW
    template_name = "clusters/cluster_list.html"
    context_object_name = "clusters"

    def get_queryset(self):
        return cluster_list(team=self.team)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["nav"] = "clusters"
        context["can_manage"] = self.request.team_context.allows(Action.CLUSTER_MANAGE)
        context["create_cluster_url"] = reverse("clusters:create")
        return context


# --- the create wizard ------------------------------------------------------------------------

WIZARD_STEPS = ("type", "name", "settings", "review")
STEP_TITLES = {
    "type": "Cluster type",
    "name": "Name and tags",
    "settings": "Access, network and encryption",
    "review": "Review and create",
}
STEP_FORMS = {"type": ClusterTypeForm, "name": ClusterNameForm, "settings": ClusterSettingsForm}
# Drafts older than this are not resumed by "Create cluster"; a fresh one starts.
DRAFT_RESUME_DAYS = 7


class ClusterCreateStartView(TeamViewMixin, View):
    """'Create cluster': resume the user's open draft in this team, or start one."""

    required_action = Action.CLUSTER_MANAGE

    def get(self, request):
        since = timezone.now() - timezone.timedelta(days=DRAFT_RESUME_DAYS)
        draft = cluster_draft_open_get(team=self.team, user=request.user, updated_since=since)
        if draft is None or request.GET.get("fresh"):
            draft = ClusterDraft.objects.create(team=self.team, user=request.user, data={})
        return redirect("clusters:wizard", draft_id=draft.pk, step="type")


def draft_spec(data: dict) -> ClusterSpec:
    """The wizard's saved (raw) input as a spec for the service, parsing the text fields."""
    try:
        tags = parse_tags(data.get("tags", ""))
    except ValidationError:
        tags = {"": ""}  # invalid: let the service report it on the Name step

    document = None
    if data.get("policy_template") == PolicyTemplate.CUSTOM:
        try:
            document = json.loads(data.get("policy_document") or "null")
        except ValueError:
            document = None
    return ClusterSpec(
        name=data.get("name", ""),
        tags=tags,
        policy_template=data.get("policy_template", PolicyTemplate.PRODUCE_CONSUME),
        policy_document=document,
        allowed_client_ips=data.get("allowed_client_ips", ""),
    )


class ClusterWizardView(TeamViewMixin, View):
    required_action = Action.CLUSTER_MANAGE

    def setup_draft(self, draft_id, step):
        if step not in WIZARD_STEPS:
            raise Http404("No such wizard step.")
        return cluster_draft_get(team=self.team, user=self.request.user, draft_id=draft_id)

    def get(self, request, draft_id, step):
        draft = self.setup_draft(draft_id, step)
        if draft.cluster_id:
            return redirect("clusters:detail", pk=draft.cluster_id)
        return self.render_step(draft, step, self.make_form(draft, step))

    def post(self, request, draft_id, step):
        draft = self.setup_draft(draft_id, step)
        if draft.cluster_id:
            # A repeated "Create" (double click, resubmitted form) lands on the one cluster.
            return redirect("clusters:detail", pk=draft.cluster_id)
        index = WIZARD_STEPS.index(step)
        if step == "review":
            if request.POST.get("nav") == "back":
                return redirect("clusters:wizard", draft_id=draft.pk, step=WIZARD_STEPS[index - 1])
            return self.create(draft)
        form_class = STEP_FORMS[step]
        raw = {name: request.POST.get(name, "") for name in form_class.base_fields}
        draft.data = {**draft.data, **raw}
        draft.save(update_fields=["data", "updated_at"])
        if request.POST.get("nav") == "back":
            # Going back keeps what was typed, even when it does not validate yet.
            return redirect("clusters:wizard", draft_id=draft.pk, step=WIZARD_STEPS[index - 1])
        form = self.make_form(draft, step, data=request.POST)
        if not form.is_valid():
            return self.render_step(draft, step, form, status=400)
        return redirect("clusters:wizard", draft_id=draft.pk, step=WIZARD_STEPS[index + 1])

    def make_form(self, draft, step, data=None):
        form_class = STEP_FORMS.get(step)
        if form_class is None:
            return None
        kwargs = {"team": self.team} if form_class is ClusterNameForm else {}
        initial = {name: draft.data[name] for name in form_class.base_fields if name in draft.data}
        return form_class(data=data, initial=initial, **kwargs)

    def render_step(self, draft, step, form, *, status=200, errors=None):
        index = WIZARD_STEPS.index(step)
        context = {
            "nav": "clusters",
            "draft": draft,
            "step": step,
            "step_index": index,
            "steps": [(s, STEP_TITLES[s]) for s in WIZARD_STEPS],
            "form": form,
            "previous_step": WIZARD_STEPS[index - 1] if index else None,
            "errors": errors,
            "encryption_at_rest": ENCRYPTION_AT_REST,
        }
        if step == "review":
            context["review_rows"] = self.review_rows(draft)
        return render(
            request=self.request,
            template_name="clusters/wizard.html",
            context=context,
            status=status,
        )

    def review_rows(self, draft):
        spec = draft_spec(draft.data)
        policy = (
            PolicyTemplate(spec.policy_template).label
            if spec.policy_template in PolicyTemplate.values
            else spec.policy_template
        )
        ips = spec.allowed_client_ips
        return [
            ("Cluster type", "Serverless", "No"),
            ("Name", spec.name, "No"),
            ("Wire prefix", f"{self.team.slug}.{spec.name}.", "No"),
            ("Tags", format_tags(spec.tags) if spec.tags else "—", "Yes (the cluster's overview)"),
            ("Authentication", "SASL/SCRAM-SHA-512 access keys", "No"),
            ("First key's access policy", policy, "Yes (per key)"),
            ("Client endpoint", "TLS listener of the cell (SASL_SSL)", "No"),
            (
                "Allowed client IPs",
                ips.replace("\n", ", ") if ips.strip() else "Any",
                "Yes (the Access tab)",
            ),
            ("Encryption in transit", "TLS, always on", "No"),
            ("Encryption at rest", ENCRYPTION_AT_REST, "Set by the platform, not per cluster"),
        ]

    def create(self, draft):
        try:
            created = cluster_create(
                team=self.team, user=self.request.user, spec=draft_spec(draft.data), draft=draft
            )
        except ApplicationError as exc:
            errors = exc.form_errors(non_field="__all__")
            return self.render_step(draft, "review", None, status=exc.status, errors=errors)
        if created.secret is None:
            return redirect("clusters:detail", pk=created.cluster.pk)
        return render_cluster_detail(
            self.request,
            created.cluster,
            new_key=created.initial_key,
            secret=created.secret,
            status=201,
        )


# What Skiff can truthfully say about data at rest: it encrypts nothing itself (docs/security.md).
ENCRYPTION_AT_REST = (
    "Only if the platform put this cell's brokers on encrypted disks (an encrypted volume per "
    "cell); Skiff itself does not encrypt stored messages"
)


# --- one cluster --------------------------------------------------------------------------------


def render_cluster_detail(
    request, cluster, *, new_key=None, secret=None, status=200, tags_error=None, tags_text=None
):
    context_ = request.team_context
    key = new_key or access_key_list(cluster=cluster, active_only=True).first()
    context = {
        "nav": "clusters",
        "cluster": cluster,
        "key": key,
        "secret": secret,
        "setup": client_setup(key, secret=secret) if key else None,
        "can_manage": context_.allows(Action.CLUSTER_MANAGE),
        "show_cell": request.user.is_staff,
        "tags_text": format_tags(cluster.tags or {}) if tags_text is None else tags_text,
        "tags_error": tags_error,
        "partition_limit": limits.MAX_PARTITIONS,
        "compacted_partition_limit": limits.MAX_COMPACTED_PARTITIONS,
    }
    return render(request, "clusters/cluster_detail.html", context, status=status)


class ClusterDetailView(TeamViewMixin, View):
    required_action = Action.CLUSTER_VIEW

    def get(self, request, pk):
        return render_cluster_detail(request, cluster_get(team=self.team, pk=pk))


class ClusterStatusView(TeamViewMixin, View):
    """The status fragment polled while a cluster is CREATING or DELETING."""

    required_action = Action.CLUSTER_VIEW

    def get(self, request, pk):
        try:
            cluster = cluster_get(team=self.team, pk=pk)
        except Http404:
            # Deleted meanwhile, or another team's id: 404 either way (htmx still follows
            # HX-Redirect on an error status, so the polling page leaves for the list).
            response = HttpResponse(status=404)
            response["HX-Redirect"] = reverse("home")
            return response
        response = render(request, "clusters/partials/_cluster_status.html", {"cluster": cluster})
        if request.GET.get("was") and request.GET["was"] != cluster.state:
            response["HX-Refresh"] = "true"  # the page shows more once the state settles
        return response


class ClusterTagsView(TeamViewMixin, View):
    """The overview's tag editor: `key=value` per line, validated as in the wizard."""

    required_action = Action.CLUSTER_MANAGE

    def post(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        text = request.POST.get("tags", "")
        try:
            cluster_update_tags(cluster=cluster, tags=parse_tags(text))
        except ValidationError as exc:
            return render_cluster_detail(
                request, cluster, status=400, tags_error=" ".join(exc.messages), tags_text=text
            )
        except ApplicationError as exc:
            errors = exc.form_errors(non_field="tags")
            message = " ".join(m for ms in errors.values() for m in ms)
            return render_cluster_detail(
                request, cluster, status=exc.status, tags_error=message, tags_text=text
            )
        messages.success(request, "Tags saved.")
        return redirect("clusters:detail", pk=pk)


class ClusterRetryView(TeamViewMixin, View):
    required_action = Action.CLUSTER_MANAGE

    def post(self, request, pk):
        # A refusal is a page message on the page the retry came from (console.middleware).
        cluster_retry(cluster=cluster_get(team=self.team, pk=pk))
        return redirect("clusters:detail", pk=pk)


class ClusterDeleteView(TeamViewMixin, View):
    required_action = Action.CLUSTER_MANAGE

    def get(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        form = ClusterDeleteForm(cluster=cluster)
        return render(request, "clusters/cluster_delete.html", {"cluster": cluster, "form": form})

    def post(self, request, pk):
        cluster = cluster_get(team=self.team, pk=pk)
        form = ClusterDeleteForm(request.POST, cluster=cluster)
        if not form.is_valid():
            return render(
                request,
                "clusters/cluster_delete.html",
                {"cluster": cluster, "form": form},
                status=400,
            )
        cluster = cluster_delete(cluster=cluster)  # a refusal: a page message (console.middleware)
        if cluster.state == Cluster.State.DELETED:
            messages.success(request, f"Cluster '{cluster.name}' is deleted.")
            return redirect("home")
        return redirect("clusters:detail", pk=pk)


class ClusterCaView(TeamViewMixin, View):
    required_action = Action.CLUSTER_VIEW

    def get(self, request, pk):
        return cluster_ca_response(cluster_get(team=self.team, pk=pk))
