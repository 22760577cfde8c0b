"""Pages of the Connectors tab (issue 19): the list with states and tasks; the catalogue; a form
generated from the plugin's own config definitions, validated by our rules and the plugin before
anything is created; one connector's tasks, a failed task's trace, pause, resume, restart,
delete and a config edit.

Views call `clusters.services.connectors` only (never a Connect worker); the form is built by
`clusters.connect_forms` from what the service's validate returns. Secrets (the plugin's
PASSWORD fields) are write-only: typed into a form, never put back into a page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from clusters import connect_forms
from clusters.selectors import connector_get
from clusters.services import connectors as connector_services
from clusters.services.connector_rules import offered_key
from clusters.views.topics import ClusterTabMixin
from console.errors import ApplicationError
from console.permissions import Action

VIEW_ACTION = Action.CONNECTOR_VIEW
MANAGE_ACTION = Action.CONNECTOR_MANAGE
TAB = "connectors"
# Input names of the page's own fields (everything else is `cfg.<key>` or the extra lines).
NAME_FIELD = "name"
HTMX_STOP_POLLING = 286  # htmx stops an `every` trigger on this status


class ConnectorTabMixin(ClusterTabMixin):
    required_action = VIEW_ACTION

    def base_context(self, cluster, tab=TAB):
        context = super().base_context(cluster, tab)
        context["can_manage_connectors"] = self.request.team_context.allows(MANAGE_ACTION)
        return context

    def get_connector(self, cluster, name):
        return connector_get(cluster=cluster, name=name)

    def plugin_or_404(self, plugin_id):
        for plugin in connector_services.connector_catalogue():
            if plugin.id == plugin_id:
                return plugin
        raise Http404("No such plugin in the catalogue.")


class ConnectorListView(ConnectorTabMixin, View):
    def get(self, request, pk):
        cluster = self.get_cluster(pk)
        context = self.base_context(cluster)
        status = 200
        plugins = {p.id: p for p in connector_services.connector_catalogue()}
        try:
            statuses = connector_services.connector_list(cluster=cluster)
            context["rows"] = [(s, plugins.get(s.connector.plugin)) for s in statuses]
        except ApplicationError as exc:
            context["error"], status = exc.message, exc.status
        template = (
            "clusters/connectors/_table.html"
            if request.htmx and not request.htmx.boosted
            else "clusters/connectors/list.html"
        )
        return render(request, template, context, status=status)


class ConnectorCatalogueView(ConnectorTabMixin, View):
    required_action = MANAGE_ACTION

    def get(self, request, pk):
        cluster = self.get_cluster(pk)
        context = self.base_context(cluster)
        context["plugins"] = connector_services.connector_catalogue()
        return render(request, "clusters/connectors/catalogue.html", context)


# --- the generated form (create and edit) -----------------------------------------------------


def _offered(plugin_id: str):
    """The platform's own filter of config keys (key -> offered?): refused keys get no input."""
    return lambda key: offered_key(plugin_id, key)


class ConnectorFormMixin(ConnectorTabMixin):
    """Renders the generated form from the service's ConfigInfos (validate's answer, or when our
    rules refused the config, the plugin's blank definitions with our errors beside fields)."""

    required_action = MANAGE_ACTION
    template_name = "clusters/connectors/form.html"

    def definitions(self, cluster, plugin):
        """The plugin's definitions before anything is typed (no rules: nothing to check)."""
        return connector_services.connector_definitions(cluster=cluster, plugin=plugin.id)

    def validate(self, cluster, plugin, name, config):
        """(ConfigInfos, our errors): the plugin's answer, or the blank definitions and why
        our rules refused the config."""
        try:
            infos = connector_services.connector_validate(
                cluster=cluster, plugin=plugin.id, config=config, name=name or "new-connector"
            )
            return infos, {}
        except ApplicationError as exc:
            if not exc.fields:
                raise
            return self.definitions(cluster, plugin), exc.form_errors()

    def render_form(
        self,
        *,
        cluster,
        plugin,
        infos,
        name="",
        config=None,
        errors=None,
        show_errors=True,
        connector=None,
        validated=False,
        status=200,
        template=None,
    ):
        config = dict(config or {})
        errors = {k: list(v) for k, v in (errors or {}).items()}
        page_errors = {
            "name": errors.pop(NAME_FIELD, []) if connector is None else [],
            "form": errors.pop("form", []) + errors.pop("plugin", []) + errors.pop("config", []),
            "extra": errors.pop(connect_forms.EXTRA_FIELD, []),
        }
        if connector is not None:
            page_errors["form"] += [f"Name: {m}" for m in errors.pop(NAME_FIELD, [])]
        form = None
        if infos is not None:
            secrets = connect_forms.secret_names(infos) | {"source.cluster.sasl.password"}
            form = connect_forms.build_form(
                infos,
                values={k: v for k, v in config.items() if k not in secrets},
                errors=errors,
                show_errors=show_errors,
                stored_secrets=getattr(connector, "secret_keys", None) or (),
                entered_secrets={k for k in secrets if config.get(k)},
                offered=_offered(plugin.id),
            )
        form_errors = form.error_count if form is not None else 0
        context = self.base_context(cluster)
        context.update(
            {
                "plugin": plugin,
                "form": form,
                "name": name,
                "connector": connector,
                "page_errors": page_errors,
                "error_total": form_errors + len(page_errors["name"]),
                "validated": validated and show_errors,
                "valid": validated and not form_errors and not any(page_errors.values()),
            }
        )
        template = template or self.template_name
        return render(self.request, template, context, status=status)

    def render_lazily(self, *, cluster, plugin, connector=None):
        """The page at once; its fields come with `?fields=1` (htmx, on load), because the
        first form of a cluster starts its Connect worker, which takes a while."""
        if not self.request.GET.get("fields"):
            return self.render_form(
                cluster=cluster, plugin=plugin, infos=None, show_errors=False,
                connector=connector, name=getattr(connector, "name", ""),
            )  # fmt: skip
        try:
            infos = self.definitions(cluster, plugin)
        except ApplicationError as exc:  # shown in place of the fields, with a way to retry
            context = {"error": exc.message, "retry": self.request.path}
            return render(self.request, "clusters/connectors/_fields_error.html", context)
        return self.render_form(
            cluster=cluster, plugin=plugin, infos=infos, show_errors=False,
            connector=connector, config=getattr(connector, "config", None),
            template="clusters/connectors/_fields.html",
        )  # fmt: skip

    def submitted(self):
        """(name, config, extra errors) of the POST."""
        name = (self.request.POST.get(NAME_FIELD) or "").strip()
        try:
            return name, connect_forms.config_from_form(self.request.POST), {}
        except ApplicationError as exc:
            # The extra lines did not parse: keep the generated inputs, report the lines.
            data = self.request.POST.copy()
            data[connect_forms.EXTRA_FIELD] = ""
            return name, connect_forms.config_from_form(data), exc.form_errors()


class ConnectorCreateView(ConnectorFormMixin, View):
    def get(self, request, pk, plugin):
        cluster = self.get_cluster(pk)
        plugin = self.plugin_or_404(plugin)
        return self.render_lazily(cluster=cluster, plugin=plugin)

    def post(self, request, pk, plugin):
        cluster = self.get_cluster(pk)
        plugin = self.plugin_or_404(plugin)
        name, config, errors = self.submitted()
        if request.POST.get("action") == "create" and not errors:
            try:
                connector = connector_services.connector_create(
                    cluster=cluster, name=name, plugin=plugin.id, config=config,
                    user=request.user,
                )  # fmt: skip
            except ApplicationError as exc:
                if not exc.fields:
                    raise
                errors = exc.form_errors()
            else:
                messages.success(request, f"Connector '{connector.name}' created.")
                return redirect("clusters:connector_detail", pk=cluster.pk, name=connector.name)
            infos = self.definitions(cluster, plugin)
            return self.render_form(
                cluster=cluster, plugin=plugin, infos=infos, name=name,
                config=config, errors=errors, validated=True, status=400,
            )  # fmt: skip
        infos, ours = self.validate(cluster, plugin, name, config)
        return self.render_form(
            cluster=cluster, plugin=plugin, infos=infos, name=name, config=config,
            errors={**ours, **errors}, validated=True,
        )  # fmt: skip


class ConnectorEditView(ConnectorFormMixin, View):
    def get(self, request, pk, name):
        cluster = self.get_cluster(pk)
        connector = self.get_connector(cluster, name)
        plugin = self.plugin_or_404(connector.plugin)
        return self.render_lazily(cluster=cluster, plugin=plugin, connector=connector)

    def post(self, request, pk, name):
        cluster = self.get_cluster(pk)
        connector = self.get_connector(cluster, name)
        plugin = self.plugin_or_404(connector.plugin)
        _, config, errors = self.submitted()
        if request.POST.get("action") == "save" and not errors:
            try:
                connector_services.connector_update_config(connector=connector, config=config)
            except ApplicationError as exc:
                if not exc.fields:
                    raise
                errors = exc.form_errors()
            else:
                messages.success(request, f"Configuration of '{connector.name}' saved.")
                return redirect("clusters:connector_detail", pk=cluster.pk, name=connector.name)
            infos = self.definitions(cluster, plugin)
            return self.render_form(
                cluster=cluster, plugin=plugin, infos=infos, name=connector.name,
                config=config, errors=errors, connector=connector, validated=True, status=400,
            )  # fmt: skip
        infos, ours = self.validate(cluster, plugin, connector.name, config)
        return self.render_form(
            cluster=cluster, plugin=plugin, infos=infos, name=connector.name,
            config=config, errors={**ours, **errors}, connector=connector, validated=True,
        )  # fmt: skip


# --- one connector ------------------------------------------------------------------------------


class ConnectorDetailView(ConnectorTabMixin, View):
    def get(self, request, pk, name):
        cluster = self.get_cluster(pk)
        try:
            connector = self.get_connector(cluster, name)
        except Http404:
            if request.htmx:  # deleted while the page polls (this tab's Delete, or elsewhere)
                return HttpResponse(status=HTMX_STOP_POLLING, headers={"HX-Reswap": "none"})
            raise
        context = self.base_context(cluster)
        context["connector"] = connector
        context["plugin"] = self.plugin_or_404(connector.plugin)
        context["status"] = status = connector_services.connector_status(connector=connector)
        context["failed_tasks"] = [t for t in status.tasks if t.state == "FAILED"]
        context["throughput"] = connector_services.connector_throughput(connector=connector)
        context["config_rows"] = sorted(connector.config.items())
        template = (
            "clusters/connectors/_status.html"
            if request.htmx and not request.htmx.boosted
            else "clusters/connectors/detail.html"
        )
        return render(request, template, context)


class ConnectorActionView(ConnectorTabMixin, View):
    required_action = MANAGE_ACTION
    action = ""
    done = {
        "pause": "paused",
        "resume": "resumed",
        "restart": "restarting",
        "delete": "deleted",
    }

    def get(self, request, pk, name):
        return redirect("clusters:connector_detail", pk=pk, name=name)

    def post(self, request, pk, name):
        cluster = self.get_cluster(pk)
        connector = self.get_connector(cluster, name)
        if self.action == "restart":
            connector_services.connector_restart(
                connector=connector,
                include_tasks=True,
                only_failed=request.POST.get("only_failed") == "1",
            )
        else:
            getattr(connector_services, f"connector_{self.action}")(connector=connector)
        messages.success(request, f"Connector '{connector.name}' {self.done[self.action]}.")
        if self.action == "delete":
            return redirect("clusters:connectors", pk=cluster.pk)
        return redirect("clusters:connector_detail", pk=cluster.pk, name=connector.name)
