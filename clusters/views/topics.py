"""Pages of the Topics and Consumer groups tabs, and the message browser.

Each view returns the full page, or its fragment for htmx requests; services do the work.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from clusters.models import Cluster
from clusters.services import consumer_groups as group_services
from clusters.services import messages as message_services
from clusters.services import topics as topic_services
from clusters.topic_configs import RETENTION_PRESETS, TOPIC_CONFIGS
from console.access import TeamViewMixin, get_team_object_or_404
from console.permissions import Action
from fleet.kafka.errors import KafkaGatewayError


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field → messages; errors of no field go under "form" (templates cannot read __all__)."""
    if not hasattr(exc, "error_dict"):
        return {"form": exc.messages}
    errors = dict(exc.message_dict)
    if "__all__" in errors:
        errors["form"] = errors.pop("__all__")
    return errors


class ClusterTabMixin(TeamViewMixin):
    def get_cluster(self, pk) -> Cluster:
        return get_team_object_or_404(
            Cluster.objects.live().select_related("cell", "team"), self.team, pk=pk
        )

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
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
            status = 400
        except KafkaGatewayError as exc:
            context["error"] = exc.message
            status = 503
        context["orderings"] = [
            ("name", "Name"),
            ("partitions", "Partitions"),
            ("size", "Size"),
            ("messages", "Messages"),
            ("bytes_in", "In"),
            ("bytes_out", "Out"),
        ]
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
        values = {
            "name": request.POST.get("name", ""),
            "partitions": request.POST.get("partitions", ""),
            "retention_preset": request.POST.get("retention_preset", ""),
        }
        configs = {}
        for spec in TOPIC_CONFIGS.values():
            raw = request.POST.get(spec.name, "").strip()
            values[spec.name] = raw
            if raw:
                configs[spec.name] = raw
        preset = values["retention_preset"]
        if preset and preset != "custom" and not configs.get("retention.ms"):
            configs["retention.ms"] = preset
        try:
            topic = topic_services.topic_create(
                cluster=cluster,
                name=values["name"],
                partitions=values["partitions"],
                configs=configs,
            )
        except ValidationError as exc:
            return self.render_form(cluster, values, errors=_errors(exc), status=400)
        except KafkaGatewayError as exc:
            return self.render_form(cluster, values, errors={"form": [exc.message]}, status=503)
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
        except KafkaGatewayError as exc:
            context["error"] = exc.message
            return render(self.request, "clusters/topic_detail.html", context, status=503)
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
        values = None
        try:
            if self.action == "configs":
                changes = {}
                values = {}
                for spec in TOPIC_CONFIGS.values():
                    if spec.create_only or spec.name not in request.POST:
                        continue
                    raw = request.POST.get(spec.name, "").strip()
                    values[spec.name] = raw
                    if request.POST.get(f"reset:{spec.name}"):
                        changes[spec.name] = None
                    elif raw != (request.POST.get(f"was:{spec.name}") or "").strip():
                        changes[spec.name] = raw
                if not changes:
                    messages.info(request, "Nothing changed.")
                    return redirect("clusters:topic_detail", pk=pk, name=name)
                topic_services.topic_alter_configs(cluster=cluster, name=name, changes=changes)
                messages.success(request, f"Configuration of '{name}' updated.")
            elif self.action == "partitions":
                topic = topic_services.topic_add_partitions(
                    cluster=cluster, name=name, total=request.POST.get("partitions", "")
                )
                messages.success(request, f"'{name}' now has {topic.partitions} partitions.")
            elif self.action == "purge":
                removed = topic_services.topic_purge(cluster=cluster, name=name)
                messages.success(request, f"Purged {removed} messages from '{name}'.")
            elif self.action == "delete":
                if request.POST.get("confirm_name", "").strip() != name:
                    raise ValidationError(
                        {"confirm_name": f"Type '{name}' exactly to delete this topic."}
                    )
                topic_services.topic_delete(cluster=cluster, name=name)
                messages.success(request, f"Topic '{name}' deleted.")
                return redirect("clusters:topics", pk=pk)
        except ValidationError as exc:
            return self.render_detail(cluster, name, errors=_errors(exc), status=400, values=values)
        except KafkaGatewayError as exc:
            return self.render_detail(
                cluster, name, errors={"form": [exc.message]}, status=503, values=values
            )
        return redirect("clusters:topic_detail", pk=pk, name=name)


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
        except ValidationError as exc:
            context["errors"] = _errors(exc)
            status = 400
        except KafkaGatewayError as exc:
            context["errors"] = {"form": [exc.message]}
            status = 503
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
        produce = {
            "key": request.POST.get("key", ""),
            "value": request.POST.get("value", ""),
            "headers": request.POST.get("headers", ""),
            "partition": request.POST.get("partition", ""),
        }
        headers = []
        errors: dict = {}
        for number, line in enumerate(produce["headers"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                errors = {"headers": [f"Line {number}: write headers as name=value."]}
                break
            headers.append((key.strip(), value))
        if not errors:
            try:
                record = message_services.message_produce(
                    cluster=cluster,
                    topic=name,
                    key=produce["key"] or None,
                    value=produce["value"],
                    headers=headers,
                    partition=produce["partition"] or None,
                )
            except ValidationError as exc:
                errors = _errors(exc)
            except KafkaGatewayError as exc:
                errors = {"form": [exc.message]}
            else:
                messages.success(
                    request,
                    f"Produced to partition {record.partition} at offset {record.offset}.",
                )
                return redirect(reverse("clusters:topic_messages", args=[pk, name]))
        context = self.base_context(cluster, "topics")
        context.update(
            {
                "topic_name": name,
                "query": {"mode": "newest", "limit": str(message_services.DEFAULT_LIMIT)},
                "produce": produce,
                "produce_errors": errors,
                "errors": {},
            }
        )
        return render(request, "clusters/topic_messages.html", context, status=400)


# --- consumer groups ------------------------------------------------------------------------


class ConsumerGroupListView(ClusterTabMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk):
        cluster = self.get_cluster(pk)
        context = self.base_context(cluster, "groups")
        context["search"] = request.GET.get("search", "")
        status = 200
        try:
            context["groups"] = group_services.group_list(cluster=cluster, search=context["search"])
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
            status = 400
        except KafkaGatewayError as exc:
            context["error"] = exc.message
            status = 503
        template = (
            "clusters/partials/_group_table.html"
            if request.htmx
            else "clusters/consumer_group_list.html"
        )
        return render(request, template, context, status=status)


class ConsumerGroupDetailView(ClusterTabMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk, group):
        return self.render_detail(self.get_cluster(pk), group)

    def render_detail(self, cluster, group, *, errors=None, status=200, values=None):
        context = self.base_context(cluster, "groups")
        try:
            context["group"] = group_services.group_get(cluster=cluster, group=group)
        except KafkaGatewayError as exc:
            context["error"] = exc.message
            status = 503
        context.update({"errors": errors or {}, "values": values or {"to": "earliest"}})
        return render(self.request, "clusters/consumer_group_detail.html", context, status=status)


class ConsumerGroupActionView(ConsumerGroupDetailView):
    required_action = Action.TOPIC_MANAGE
    action = ""

    def get(self, request, pk, group):
        return redirect("clusters:group_detail", pk=pk, group=group)

    def post(self, request, pk, group):
        cluster = self.get_cluster(pk)
        values = {k: request.POST.get(k, "") for k in ("to", "topic", "timestamp", "offset")}
        try:
            if self.action == "reset":
                timestamp = values["timestamp"]
                result = group_services.group_reset_offsets(
                    cluster=cluster,
                    group=group,
                    to=values["to"],
                    topic=values["topic"] or None,
                    timestamp=(message_services.parse_timestamp(timestamp) if timestamp else None),
                    offset=values["offset"] or None,
                )
                messages.success(
                    request, f"Offsets of {len(result)} partitions reset ({values['to']})."
                )
            else:
                group_services.group_delete(cluster=cluster, group=group)
                messages.success(request, f"Consumer group '{group}' deleted.")
                return redirect("clusters:groups", pk=pk)
        except ValidationError as exc:
            return self.render_detail(
                cluster, group, errors=_errors(exc), status=400, values=values
            )
        except KafkaGatewayError as exc:
            return self.render_detail(
                cluster, group, errors={"form": [exc.message]}, status=503, values=values
            )
        return redirect("clusters:group_detail", pk=pk, group=group)
