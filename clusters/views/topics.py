"""Pages of the Topics tab and the message browser (consumer groups: `consumer_groups`).

Each view returns the full page, or its fragment for htmx requests; services do the work.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from clusters.forms import (
    MessageProduceForm,
    TopicConfigsForm,
    TopicCreateForm,
    TopicDeleteForm,
    TopicPartitionsForm,
)
from clusters.models import Cluster
from clusters.selectors import cluster_get
from clusters.services import messages as message_services
from clusters.services import topics as topic_services
from console.access import TeamViewMixin
from console.errors import ApplicationError
from console.permissions import Action
from fleet.topic_rules import RETENTION_PRESETS, TOPIC_CONFIGS


class ClusterTabMixin(TeamViewMixin):
    def get_cluster(self, pk) -> Cluster:
        return cluster_get(team=self.team, pk=pk)

    def base_context(self, cluster: Cluster, tab: str) -> dict:
        context = self.request.team_context
        return {
            "nav": "clusters",
            "cluster": cluster,
            "tab": tab,
            "can_manage_topics": context.allows(Action.TOPIC_MANAGE),
            "can_view_messages": context.allows(Action.MESSAGE_VIEW),
        }


# --- topics ---------------------------------------------------------------------------------


class TopicListView(ClusterTabMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk):
        cluster = self.get_cluster(pk)
        context = self.base_context(cluster, "topics")
        status = 200
        try:
            context["page"] = topic_services.topic_list(
                cluster=cluster,
                search=request.GET.get("search", ""),
                ordering=request.GET.get("ordering", "name"),
                page=request.GET.get("page", 1),
            )
        except ApplicationError as exc:
            context["error"], status = exc.message, exc.status
        context["orderings"] = [
            ("name", "Name"),
            ("partitions", "Partitions"),
            ("size", "Size"),
            ("messages", "Messages"),
            ("bytes_in", "In"),
            ("bytes_out", "Out"),
        ]
        # A table alone also brings the search form's sort up to date (out of band).
        context["oob"] = bool(request.htmx and not request.htmx.boosted)
        template = (
            "clusters/partials/_topic_table.html"
            if request.htmx and not request.htmx.boosted
            else "clusters/topic_list.html"
        )
        return render(request, template, context, status=status)


def _config_fields(values: dict | None = None, errors: dict | None = None, creating=True):
    """What the create/edit forms show per settable config."""
    values = values or {}
    fields = []
    for spec in TOPIC_CONFIGS.values():
        if spec.create_only and not creating:
            continue
        fields.append(
            {
                "spec": spec,
                "id": "cfg-" + spec.name.replace(".", "-"),
                "value": values.get(spec.name, ""),
            }
        )
    return fields


class TopicCreateView(ClusterTabMixin, View):
    required_action = Action.TOPIC_MANAGE

    def get(self, request, pk):
        cluster = self.get_cluster(pk)
        return self.render_form(cluster, {"partitions": topic_services.DEFAULT_PARTITIONS})

    def post(self, request, pk):
        cluster = self.get_cluster(pk)
        form = TopicCreateForm(request.POST)
        try:
            data = form.cleaned()
            topic = topic_services.topic_create(
                cluster=cluster,
                name=data["name"],
                partitions=data["partitions"],
                configs=form.configs(),
            )
        except ApplicationError as exc:
            # Shown beside the form, as typed ("form": errors of no field).
            return self.render_form(
                cluster, form.values(), errors=exc.form_errors(), status=exc.status
            )
        messages.success(request, f"Topic '{topic.name}' created.")
        return redirect("clusters:topic_detail", pk=cluster.pk, name=topic.name)

    def render_form(self, cluster, values, *, errors=None, status=200):
        context = self.base_context(cluster, "topics")
        context.update(
            {
                "values": values,
                "errors": errors or {},
                "config_fields": _config_fields(values),
                "presets": RETENTION_PRESETS,
                "max_name": topic_services.max_topic_name_length(cluster),
            }
        )
        return render(self.request, "clusters/topic_create.html", context, status=status)


class TopicDetailView(ClusterTabMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk, name):
        return self.render_detail(self.get_cluster(pk), name)

    def render_detail(self, cluster, name, *, errors=None, status=200, values=None):
        context = self.base_context(cluster, "topics")
        try:
            detail = topic_services.topic_get(cluster=cluster, name=name)
        except ApplicationError as exc:
            context["error"] = exc.message
            return render(self.request, "clusters/topic_detail.html", context, status=exc.status)
        context.update(
            {
                "topic": detail,
                "errors": errors or {},
                "config_fields": _config_fields(values or detail.settable, creating=False),
            }
        )
        return render(self.request, "clusters/topic_detail.html", context, status=status)


class TopicActionView(TopicDetailView):
    """POST-only actions of the detail page: configs, partitions, purge, delete."""

    required_action = Action.TOPIC_MANAGE
    action = ""

    def get(self, request, pk, name):
        return redirect("clusters:topic_detail", pk=pk, name=name)

    def post(self, request, pk, name):
        cluster = self.get_cluster(pk)
        self.values = None  # what the configuration form shows again after an error
        try:
            return getattr(self, f"do_{self.action}")(request, cluster, name)
        except ApplicationError as exc:
            errors, status = exc.form_errors(), exc.status
        return self.render_detail(cluster, name, errors=errors, status=status, values=self.values)

    def do_configs(self, request, cluster, name):
        form = TopicConfigsForm(request.POST)
        self.values = form.values()
        form.cleaned()
        if changes := form.changes():
            topic_services.topic_alter_configs(cluster=cluster, name=name, changes=changes)
            messages.success(request, f"Configuration of '{name}' updated.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("clusters:topic_detail", pk=cluster.pk, name=name)

    def do_partitions(self, request, cluster, name):
        total = TopicPartitionsForm(request.POST).cleaned()["partitions"]
        topic = topic_services.topic_add_partitions(cluster=cluster, name=name, total=total)
        messages.success(request, f"'{name}' now has {topic.partitions} partitions.")
        return redirect("clusters:topic_detail", pk=cluster.pk, name=name)

    def do_purge(self, request, cluster, name):
        removed = topic_services.topic_purge(cluster=cluster, name=name)
        messages.success(request, f"Purged {removed} messages from '{name}'.")
        return redirect("clusters:topic_detail", pk=cluster.pk, name=name)

    def do_delete(self, request, cluster, name):
        TopicDeleteForm(request.POST, topic=name).cleaned()
        topic_services.topic_delete(cluster=cluster, name=name)
        messages.success(request, f"Topic '{name}' deleted.")
        return redirect("clusters:topics", pk=cluster.pk)


# --- messages -------------------------------------------------------------------------------


class TopicMessagesView(ClusterTabMixin, View):
    required_action = Action.MESSAGE_VIEW

    def get(self, request, pk, name):
        cluster = self.get_cluster(pk)
        context = self.base_context(cluster, "topics")
        query = {
            "mode": request.GET.get("mode", "newest"),
            "partition": request.GET.get("partition", ""),
            "offset": request.GET.get("offset", ""),
            "timestamp": request.GET.get("timestamp", ""),
            "limit": request.GET.get("limit", str(message_services.DEFAULT_LIMIT)),
        }
        context.update({"topic_name": name, "query": query, "produce": {}, "errors": {}})
        status = 200
        try:
            context["result"] = message_services.message_browse(
                cluster=cluster, topic=name, **query
            )
        except ApplicationError as exc:
            context["errors"], status = exc.form_errors(), exc.status
        template = (
            "clusters/partials/_message_list.html"
            if request.htmx
            else "clusters/topic_messages.html"
        )
        return render(request, template, context, status=status)

    def post(self, request, pk, name):
        if not request.team_context.allows(Action.TOPIC_MANAGE):
            raise PermissionDenied("Your role in this team does not allow producing messages.")
        cluster = self.get_cluster(pk)
        form = MessageProduceForm(request.POST)
        try:
            data = form.cleaned()
            record = message_services.message_produce(
                cluster=cluster,
                topic=name,
                key=data["key"] or None,
                value=data["value"],
                headers=data["headers"],
                partition=data["partition"] or None,
            )
        except ApplicationError as exc:
            return self.render_produce_errors(
                cluster, name, form, exc.form_errors(), status=exc.status
            )
        messages.success(
            request, f"Produced to partition {record.partition} at offset {record.offset}."
        )
        return redirect(reverse("clusters:topic_messages", args=[pk, name]))

    def render_produce_errors(self, cluster, name, form, errors, *, status=400):
        """The page again with the produce form as typed and why it was refused."""
        context = self.base_context(cluster, "topics")
        context.update(
            {
                "topic_name": name,
                "query": {"mode": "newest", "limit": str(message_services.DEFAULT_LIMIT)},
                "produce": form.values(),
                "produce_errors": errors,
                "errors": {},
            }
        )
        return render(self.request, "clusters/topic_messages.html", context, status=status)
