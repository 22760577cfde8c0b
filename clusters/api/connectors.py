"""API of managed connectors (issue 19): `/api/v1/clusters/{id}/connectors/…`.

Thin views over `clusters.services.connectors`: the platform's rules refuse a config before
any worker sees it (400, errors keyed by config key), then the plugin's own validation
(400 with its messages per key). Secrets (the plugin's PASSWORD fields) are accepted on create
and config changes and never returned: a connector shows only the names of its secret keys.
No route reaches a worker's REST API: the console calls it, the tenant never does.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clusters.models import Cluster, Connector
from clusters.selectors import cluster_get, connector_get
from clusters.services import connectors as connector_services
from clusters.services.connectors import ConnectorStatus
from console.api.mixins import TeamScopedAPIMixin
from console.permissions import Action

# --- serializers ------------------------------------------------------------------------------


class PluginOutput(serializers.Serializer):
    id = serializers.CharField(help_text="What `plugin` names on create and validate.")
    kind = serializers.ChoiceField(choices=["source", "sink"])
    title = serializers.CharField()
    description = serializers.CharField()
    class_name = serializers.CharField()


class ConfigInput(serializers.Serializer):
    config = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Connector config with this cluster's short topic names; secrets (PASSWORD "
        "fields) in clear: they are stored encrypted and never shown again.",
    )


class ValidateInput(ConfigInput):
    plugin = serializers.CharField(help_text="A plugin id of the catalogue.")
    name = serializers.CharField(required=False, default="new-connector", max_length=64)


class CreateInput(ConfigInput):
    name = serializers.CharField(max_length=64)
    plugin = serializers.CharField(help_text="A plugin id of the catalogue.")


class ConfigInfosOutput(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    error_count = serializers.IntegerField()
    groups = serializers.ListField(child=serializers.CharField())
    configs = serializers.ListField(
        child=serializers.DictField(),
        help_text="Kafka Connect's ConfigInfos entries {definition, value}, as this cluster's "
        "tenant sees them: settings the platform sets are left out, secrets have no value.",
    )
    errors = serializers.ListField(
        child=serializers.CharField(),
        help_text="The plugin's errors about settings the platform sets (none when the "
        "platform's settings are right).",
    )


class TaskOutput(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    worker_id = serializers.CharField()
    trace = serializers.CharField(allow_null=True, help_text="A failed task's stack trace.")


class ConnectorOutput(serializers.Serializer):
    name = serializers.CharField()
    plugin = serializers.CharField()
    state = serializers.CharField(
        help_text="RUNNING, PAUSED, FAILED, UNASSIGNED, RESTARTING, STOPPED; CREATING before "
        "the worker reported; UNKNOWN when the worker does not answer."
    )
    tasks = TaskOutput(many=True)
    trace = serializers.CharField(allow_null=True, help_text="A failed connector's trace.")
    created_at = serializers.DateTimeField()


class ThroughputOutput(serializers.Serializer):
    topics = serializers.ListField(
        child=serializers.CharField(),
        help_text="Topics the connector reads (sink) or writes (source; a name ending in '.' "
        "is a prefix).",
    )
    bytes_per_sec = serializers.FloatField(
        help_text="Bytes per second a sink reads from, or a source writes to, those topics (live)."
    )
    messages_per_sec = serializers.FloatField(help_text="Messages per second into those topics.")


class ConnectorDetailOutput(ConnectorOutput):
    config = serializers.DictField(child=serializers.CharField(), help_text="Without secrets.")
    secret_keys = serializers.ListField(
        child=serializers.CharField(), help_text="Config keys whose values are stored secrets."
    )
    throughput = ThroughputOutput()


def connector_body(found: ConnectorStatus) -> dict:
    return {
        "name": found.name,
        "plugin": found.plugin,
        "state": found.state,
        "tasks": [
            {"id": t.id, "state": t.state, "worker_id": t.worker_id, "trace": t.trace}
            for t in found.tasks
        ],
        "trace": found.trace,
        "created_at": found.connector.created_at,
    }


def detail_body(found: ConnectorStatus) -> dict:
    return {
        **connector_body(found),
        "config": dict(found.config),
        "secret_keys": found.secret_keys,
        "throughput": connector_services.connector_throughput(connector=found.connector),
    }


# --- views ------------------------------------------------------------------------------------


class ConnectorAPIView(TeamScopedAPIMixin, GenericAPIView):
    """A cluster's managed connectors (issue 19)."""

    queryset = Cluster.objects.live().select_related("team", "cell")
    required_action = Action.CONNECTOR_VIEW

    def get_cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is None:
            cached = self._cluster = cluster_get(team=self.team, pk=self.kwargs["pk"])
        return cached

    def get_connector(self) -> Connector:
        cached = getattr(self, "_connector", None)
        if cached is None:
            cached = self._connector = connector_get(
                cluster=self.get_cluster(), name=self.kwargs["name"]
            )
        return cached

    def lookup_url_objects(self) -> None:
        self.get_cluster()
        if "name" in self.kwargs:
            self.get_connector()


class ConnectorPluginsAPIView(ConnectorAPIView):
    """The catalogue: the only plugins a connector can be made from."""

    serializer_class = PluginOutput
    pagination_class = None  # a short fixed list

    @extend_schema(responses={200: PluginOutput(many=True)}, operation_id="connector_plugins")
    def get(self, request, pk):
        return Response(
            [
                {
                    "id": p.id,
                    "kind": p.kind,
                    "title": p.title,
                    "description": p.description,
                    "class_name": p.class_name,
                }
                for p in connector_services.connector_catalogue()
            ]
        )


class ConnectorValidateAPIView(ConnectorAPIView):
    """Validate a connector config without creating anything."""

    required_action = Action.CONNECTOR_MANAGE
    serializer_class = ConfigInfosOutput

    @extend_schema(
        request=ValidateInput,
        responses={200: ConfigInfosOutput},
        operation_id="connector_validate",
        description="The platform's rules first (400, errors keyed by config key, nothing "
        "reaches a worker), then the plugin's own validation: its definitions (a form can be "
        "generated from them) and its messages per field in `configs[].value.errors`.",
    )
    def post(self, request, pk):
        data = ValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = connector_services.connector_validate(
            cluster=self.get_cluster(),
            plugin=data.validated_data["plugin"],
            name=data.validated_data["name"],
            config=data.validated_data["config"],
        )
        return Response(document)


class ConnectorListAPIView(ConnectorAPIView):
    """The cluster's connectors with their state and tasks; create one (validated by the
    platform's rules, then by the plugin; secrets stored encrypted, never returned)."""

    required_actions = {"POST": Action.CONNECTOR_MANAGE}
    serializer_class = ConnectorOutput

    @extend_schema(responses={200: ConnectorOutput(many=True)}, operation_id="connectors_list")
    def get(self, request, pk):
        rows = connector_services.connector_list(cluster=self.get_cluster())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([connector_body(r) for r in page])

    @extend_schema(
        request=CreateInput,
        responses={201: ConnectorDetailOutput},
        operation_id="connectors_create",
    )
    def post(self, request, pk):
        data = CreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        connector = connector_services.connector_create(
            cluster=self.get_cluster(),
            name=data.validated_data["name"],
            plugin=data.validated_data["plugin"],
            config=data.validated_data["config"],
            user=request.user,
        )
        found = connector_services.connector_status(connector=connector)
        return Response(detail_body(found), status=status.HTTP_201_CREATED)


class ConnectorDetailAPIView(ConnectorAPIView):
    """One connector: state, tasks (a failed task's trace), config without secrets, the
    names of its secret keys, and the throughput of its topics."""

    required_actions = {"DELETE": Action.CONNECTOR_MANAGE}
    serializer_class = ConnectorDetailOutput

    @extend_schema(responses={200: ConnectorDetailOutput}, operation_id="connectors_retrieve")
    def get(self, request, pk, name):
        found = connector_services.connector_status(connector=self.get_connector())
        return Response(detail_body(found))

    @extend_schema(
        responses={204: None},
        operation_id="connectors_delete",
        description="Off the worker, its secrets and sink group deleted; the cluster's worker "
        "stops with its last connector.",
    )
    def delete(self, request, pk, name):
        connector_services.connector_delete(connector=self.get_connector())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectorConfigAPIView(ConnectorAPIView):
    """Replace a connector's config."""

    required_action = Action.CONNECTOR_MANAGE
    serializer_class = ConnectorDetailOutput

    @extend_schema(
        request=ConfigInput,
        responses={200: ConnectorDetailOutput},
        operation_id="connectors_config_update",
        description="Replace the config (validated as on create). A secret key left out or "
        "empty keeps its stored value.",
    )
    def put(self, request, pk, name):
        data = ConfigInput(data=request.data)
        data.is_valid(raise_exception=True)
        connector = connector_services.connector_update_config(
            connector=self.get_connector(), config=data.validated_data["config"]
        )
        return Response(detail_body(connector_services.connector_status(connector=connector)))


class _ConnectorActionAPIView(ConnectorAPIView):
    required_action = Action.CONNECTOR_MANAGE
    serializer_class = ConnectorOutput

    def act(self, connector: Connector, request) -> Connector:
        raise NotImplementedError

    def post(self, request, pk, name):
        connector = self.act(self.get_connector(), request)
        return Response(connector_body(connector_services.connector_status(connector=connector)))


class ConnectorPauseAPIView(_ConnectorActionAPIView):
    """Pause the connector and its tasks (paused tasks are not billed)."""

    @extend_schema(request=None, responses={200: ConnectorOutput}, operation_id="connectors_pause")
    def post(self, request, pk, name):
        return super().post(request, pk, name)

    def act(self, connector, request):
        return connector_services.connector_pause(connector=connector)


class ConnectorResumeAPIView(_ConnectorActionAPIView):
    """Resume a paused connector."""

    @extend_schema(request=None, responses={200: ConnectorOutput}, operation_id="connectors_resume")
    def post(self, request, pk, name):
        return super().post(request, pk, name)

    def act(self, connector, request):
        return connector_services.connector_resume(connector=connector)


class ConnectorRestartAPIView(_ConnectorActionAPIView):
    """Restart the connector (and by default its tasks)."""

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter("include_tasks", bool, description="Default 1: restart its tasks."),
            OpenApiParameter("only_failed", bool, description="1: only what has failed."),
        ],
        responses={200: ConnectorOutput},
        operation_id="connectors_restart",
    )
    def post(self, request, pk, name):
        return super().post(request, pk, name)

    def act(self, connector, request):
        flag = request.query_params.get
        return connector_services.connector_restart(
            connector=connector,
            include_tasks=flag("include_tasks", "1") in ("1", "true"),
            only_failed=flag("only_failed", "0") in ("1", "true"),
        )
