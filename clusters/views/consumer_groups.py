"""Pages of the Consumer groups tab: the list, one group's lag, offset reset and delete."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views import View

from clusters.forms import ConsumerGroupResetForm
from clusters.services import consumer_groups as group_services
from clusters.views.topics import ClusterTabMixin
from console.errors import ApplicationError
from console.permissions import Action

# The list's sortable columns: (ordering key, heading).
ORDERINGS = [("group", "Group"), ("state", "State"), ("members", "Members"), ("lag", "Total lag")]


class ConsumerGroupListView(ClusterTabMixin, View):
    required_action = Action.TOPIC_VIEW

    def get(self, request, pk):
        cluster = self.get_cluster(pk)
        context = self.base_context(cluster, "groups")
        status = 200
        try:
            context["page"] = group_services.group_page(
                cluster=cluster,
                search=request.GET.get("search", ""),
                ordering=request.GET.get("ordering", "group"),
                page=request.GET.get("page", 1),
            )
        except ApplicationError as exc:
            context["error"], status = exc.message, exc.status
        context["orderings"] = ORDERINGS
        # A table alone also brings the search form's sort up to date (out of band).
        context["oob"] = bool(request.htmx and not request.htmx.boosted)
        template = (
            "clusters/partials/_group_table.html"
            if request.htmx and not request.htmx.boosted
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
        except ApplicationError as exc:
            context["error"], status = exc.message, exc.status
        context.update({"errors": errors or {}, "values": values or {"to": "earliest"}})
        return render(self.request, "clusters/consumer_group_detail.html", context, status=status)


class ConsumerGroupActionView(ConsumerGroupDetailView):
    required_action = Action.TOPIC_MANAGE
    action = ""

    def get(self, request, pk, group):
        return redirect("clusters:group_detail", pk=pk, group=group)

    def post(self, request, pk, group):
        cluster = self.get_cluster(pk)
        form = ConsumerGroupResetForm(request.POST)
        try:
            return getattr(self, f"do_{self.action}")(request, cluster, group, form)
        except ApplicationError as exc:
            errors, status = exc.form_errors(), exc.status
        return self.render_detail(
            cluster, group, errors=errors, status=status, values=form.values()
        )

    def do_reset(self, request, cluster, group, form):
        data = form.cleaned()
        result = group_services.group_reset_offsets(
            cluster=cluster,
            group=group,
            to=data["to"],
            topic=data["topic"] or None,
            timestamp=data["timestamp"],
            offset=data["offset"] or None,
        )
        messages.success(request, f"Offsets of {len(result)} partitions reset ({data['to']}).")
        return redirect("clusters:group_detail", pk=cluster.pk, group=group)

    def do_delete(self, request, cluster, group, form):
        group_services.group_delete(cluster=cluster, group=group)
        messages.success(request, f"Consumer group '{group}' deleted.")
        return redirect("clusters:groups", pk=cluster.pk)
