"""API of topics, consumer groups and messages: `/api/v1/clusters/{id}/topics/…`.

One class per resource; input and output serializers shape data, services do the work.
"""

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clusters.models import Cluster
from clusters.selectors import cluster_get
from clusters.services import consumer_groups as group_services
from clusters.services import messages as message_services
from clusters.services import topics as topic_services
from console.api.mixins import TeamScopedAPIMixin
from console.permissions import Action
from fleet.topic_rules import TOPIC_CONFIGS

# --- serializers ----------------------------------------------------------------------------

MAX_PARTITION = 2**31 - 1  # Kafka's partition ids and counts are 32-bit
MAX_OFFSET = 2**63 - 1  # Kafka's offsets are 64-bit


class TopicRowOutput(serializers.Serializer):
    name = serializers.CharField()
    partitions = serializers.IntegerField()
    replication_factor = serializers.IntegerField()
    size_bytes = serializers.IntegerField(allow_null=True, help_text="One replica, on disk.")
    messages = serializers.IntegerField(help_text="Approximate: sum of end − start offsets.")
    under_replicated = serializers.IntegerField()
    cleanup_policy = serializers.CharField(allow_null=True)
    bytes_in_per_sec = serializers.FloatField(allow_null=True)
    bytes_out_per_sec = serializers.FloatField(allow_null=True)


class TopicListOutput(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    page_size = serializers.IntegerField()
    ordering = serializers.CharField()
    search = serializers.CharField()
    cluster_partitions = serializers.IntegerField()
    results = TopicRowOutput(many=True)


class TopicCreateInput(serializers.Serializer):
    name = serializers.CharField(help_text="Short name; the wire name adds the cluster prefix.")
    partitions = serializers.IntegerField(default=topic_services.DEFAULT_PARTITIONS)
    configs = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Settable: " + ", ".join(TOPIC_CONFIGS),
    )


class TopicConfigsInput(serializers.Serializer):
    configs = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True),
        help_text="Config name → new value, or null to reset it to the platform default.",
    )


class PartitionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    leader = serializers.IntegerField()
    replicas = serializers.ListField(child=serializers.IntegerField())
    isr = serializers.ListField(child=serializers.IntegerField())
    start_offset = serializers.IntegerField(allow_null=True)
    end_offset = serializers.IntegerField(allow_null=True)


class ConfigOutput(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    is_default = serializers.BooleanField()
    settable = serializers.BooleanField()


class TopicGroupOutput(serializers.Serializer):
    group = serializers.CharField()
    state = serializers.CharField()
    members = serializers.IntegerField()
    lag = serializers.IntegerField()
    partitions = serializers.IntegerField()


class TopicDetailOutput(serializers.Serializer):
    name = serializers.CharField()
    wire_name = serializers.CharField()
    replication_factor = serializers.IntegerField()
    messages = serializers.IntegerField()
    settable_configs = serializers.DictField(
        child=serializers.CharField(allow_null=True), source="settable"
    )
    partitions = PartitionOutput(many=True)
    configs = ConfigOutput(many=True)
    consumer_groups = TopicGroupOutput(many=True)


class AddPartitionsInput(serializers.Serializer):
    count = serializers.IntegerField(help_text="The new total number of partitions.")


class PurgeOutput(serializers.Serializer):
    purged_messages = serializers.IntegerField()


class RenderedOutput(serializers.Serializer):
    format = serializers.ChoiceField(choices=["null", "text", "json", "binary"])
    text = serializers.CharField()
    base64 = serializers.CharField(allow_null=True)
    size = serializers.IntegerField()
    truncated = serializers.BooleanField()


class HeaderOutput(serializers.Serializer):
    name = serializers.CharField()
    value = RenderedOutput()


class MessageOutput(serializers.Serializer):
    partition = serializers.IntegerField()
    offset = serializers.IntegerField()
    timestamp = serializers.DateTimeField(allow_null=True)
    key = RenderedOutput()
    value = RenderedOutput()
    headers = HeaderOutput(many=True)


class BrowseOutput(serializers.Serializer):
    mode = serializers.CharField()
    partition = serializers.IntegerField(allow_null=True)
    limit = serializers.IntegerField()
    notices = serializers.ListField(child=serializers.CharField())
    messages = MessageOutput(many=True)


class ProduceInput(serializers.Serializer):
    value = serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False)
    key = serializers.CharField(required=False, allow_null=True, trim_whitespace=False)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    partition = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_PARTITION
    )
    encoding = serializers.ChoiceField(choices=["utf-8", "base64"], default="utf-8")


class ProducedOutput(serializers.Serializer):
    partition = serializers.IntegerField()
    offset = serializers.IntegerField()
    timestamp_ms = serializers.IntegerField(allow_null=True)


class GroupRowOutput(serializers.Serializer):
    group = serializers.CharField()
    state = serializers.CharField()
    members = serializers.IntegerField()
    topics = serializers.ListField(child=serializers.CharField())
    lag = serializers.IntegerField()


class GroupMemberOutput(serializers.Serializer):
    member_id = serializers.CharField()
    client_id = serializers.CharField()
    host = serializers.CharField()
    assignment = serializers.SerializerMethodField()

    def get_assignment(self, member) -> list[dict]:
        return [{"topic": t, "partition": p} for t, p in member.assignment]


class PartitionLagOutput(serializers.Serializer):
    topic = serializers.CharField()
    partition = serializers.IntegerField()
    committed = serializers.IntegerField(allow_null=True)
    start = serializers.IntegerField(allow_null=True)
    end = serializers.IntegerField(allow_null=True)
    lag = serializers.IntegerField()


class GroupDetailOutput(serializers.Serializer):
    group = serializers.CharField()
    wire_id = serializers.CharField()
    state = serializers.CharField()
    type = serializers.CharField()
    partition_assignor = serializers.CharField()
    coordinator = serializers.IntegerField(allow_null=True)
    lag = serializers.IntegerField()
    members = GroupMemberOutput(many=True)
    partitions = PartitionLagOutput(many=True)


class ResetOffsetsInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=list(group_services.RESET_TARGETS))
    topic = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    timestamp = serializers.CharField(
        required=False, allow_null=True, help_text="ISO 8601 or milliseconds (to=timestamp)."
    )
    offset = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_OFFSET
    )


class ResetOffsetsOutput(serializers.Serializer):
    offsets = serializers.ListField(child=serializers.DictField())


# --- views ----------------------------------------------------------------------------------


class ClusterScopedAPIView(TeamScopedAPIMixin, GenericAPIView):
    """Resolves the cluster of the URL inside the request's team (another team's is a 404)."""

    # Read by the schema generator and the team mixin; get_cluster() uses the selector.
    queryset = Cluster.objects.live().select_related("cell", "team")

    def get_cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is None:
            cached = self._cluster = cluster_get(team=self.team, pk=self.kwargs["pk"])
        return cached

    def lookup_url_objects(self) -> None:
        self.get_cluster()  # another team's cluster: 404 before the body is read

    def validated(self, serializer_class: type[serializers.Serializer], data=None) -> dict:
        """The body through `serializer_class`; when it is not valid, a topic or group the URL
        names that does not exist is a 404 first (looked up only then: it costs a Kafka call)."""
        serializer = serializer_class(data=self.request.data if data is None else data)
        if not serializer.is_valid():
            self._require_named_objects()
            raise serializers.ValidationError(serializer.errors)
        return serializer.validated_data

    def _require_named_objects(self) -> None:
        cluster = self.get_cluster()
        if "name" in self.kwargs and cluster.state == Cluster.State.ACTIVE:
            topic_services.topic_require(cluster=cluster, name=self.kwargs["name"])
        if "group" in self.kwargs and cluster.state == Cluster.State.ACTIVE:
            group_services.group_get(cluster=cluster, group=self.kwargs["group"])


class TopicListAPIView(ClusterScopedAPIView):
    required_actions = {"POST": Action.TOPIC_MANAGE}
    required_action = Action.TOPIC_VIEW
    serializer_class = TopicListOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Substring of the short name."),
            OpenApiParameter(
                "ordering",
                str,
                description="name, partitions, size, messages, bytes_in or bytes_out; '-' for "
                "descending.",
            ),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description="1–500, default 50."),
        ],
        responses={200: TopicListOutput},
        operation_id="clusters_topics_list",
    )
    def get(self, request, pk):
        page = topic_services.topic_list(
            cluster=self.get_cluster(),
            search=request.query_params.get("search", ""),
            ordering=request.query_params.get("ordering", "name"),
            page=request.query_params.get("page", 1),
            page_size=request.query_params.get("page_size", topic_services.PAGE_SIZE),
        )
        return Response(
            {
                "count": page.total,
                "page": page.page,
                "pages": page.pages,
                "page_size": page.page_size,
                "ordering": page.ordering,
                "search": page.search,
                "cluster_partitions": page.cluster_partitions,
                # Flat rows of plain values: a shallow copy is the same as asdict, at a tenth.
                "results": [dict(vars(row)) for row in page.rows],
            }
        )

    @extend_schema(request=TopicCreateInput, responses={201: TopicDetailOutput})
    def post(self, request, pk):
        values = self.validated(TopicCreateInput)
        cluster = self.get_cluster()
        topic = topic_services.topic_create(
            cluster=cluster,
            name=values["name"],
            partitions=values["partitions"],
            configs=values.get("configs") or {},
        )
        detail = topic_services.topic_get_after_create(cluster=cluster, name=topic.name)
        return Response(TopicDetailOutput(detail).data, status=status.HTTP_201_CREATED)


class TopicDetailAPIView(ClusterScopedAPIView):
    required_actions = {"PATCH": Action.TOPIC_MANAGE, "DELETE": Action.TOPIC_MANAGE}
    required_action = Action.TOPIC_VIEW
    serializer_class = TopicDetailOutput

    @extend_schema(responses={200: TopicDetailOutput})
    def get(self, request, pk, name):
        detail = topic_services.topic_get(cluster=self.get_cluster(), name=name)
        return Response(TopicDetailOutput(detail).data)

    @extend_schema(request=TopicConfigsInput, responses={200: TopicDetailOutput})
    def patch(self, request, pk, name):
        values = self.validated(TopicConfigsInput)
        cluster = self.get_cluster()
        topic_services.topic_alter_configs(cluster=cluster, name=name, changes=values["configs"])
        return Response(
            TopicDetailOutput(topic_services.topic_get(cluster=cluster, name=name)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, pk, name):
        topic_services.topic_delete(cluster=self.get_cluster(), name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TopicPartitionsAPIView(ClusterScopedAPIView):
    required_action = Action.TOPIC_MANAGE
    serializer_class = AddPartitionsInput

    @extend_schema(request=AddPartitionsInput, responses={200: TopicDetailOutput})
    def post(self, request, pk, name):
        values = self.validated(AddPartitionsInput)
        cluster = self.get_cluster()
        topic_services.topic_add_partitions(cluster=cluster, name=name, total=values["count"])
        return Response(
            TopicDetailOutput(topic_services.topic_get(cluster=cluster, name=name)).data
        )


class TopicPurgeAPIView(ClusterScopedAPIView):
    required_action = Action.TOPIC_MANAGE
    serializer_class = PurgeOutput

    @extend_schema(request=None, responses={200: PurgeOutput})
    def post(self, request, pk, name):
        removed = topic_services.topic_purge(cluster=self.get_cluster(), name=name)
        return Response({"purged_messages": removed})


def _browse_payload(result) -> dict:
    def rendered(r):
        return asdict(r)

    return {
        "mode": result.mode,
        "partition": result.partition,
        "limit": result.limit,
        "notices": result.notices,
        "messages": [
            {
                "partition": m.partition,
                "offset": m.offset,
                "timestamp": m.timestamp,
                "key": rendered(m.key),
                "value": rendered(m.value),
                "headers": [{"name": k, "value": rendered(v)} for k, v in m.headers],
            }
            for m in result.messages
        ],
    }


class TopicMessagesAPIView(ClusterScopedAPIView):
    required_actions = {"POST": Action.TOPIC_MANAGE}
    required_action = Action.MESSAGE_VIEW
    serializer_class = BrowseOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("mode", str, enum=list(message_services.MODES)),
            OpenApiParameter("partition", int),
            OpenApiParameter("offset", int, description="mode=offset"),
            OpenApiParameter("timestamp", str, description="mode=timestamp: ISO 8601 or ms"),
            OpenApiParameter("limit", int, description="1–500, default 50"),
        ],
        responses={200: BrowseOutput},
    )
    def get(self, request, pk, name):
        q = request.query_params
        result = message_services.message_browse(
            cluster=self.get_cluster(),
            topic=name,
            mode=q.get("mode", "newest"),
            partition=q.get("partition"),
            offset=q.get("offset"),
            timestamp=q.get("timestamp"),
            limit=q.get("limit", message_services.DEFAULT_LIMIT),
        )
        return Response(BrowseOutput(_browse_payload(result)).data)

    @extend_schema(request=ProduceInput, responses={201: ProducedOutput})
    def post(self, request, pk, name):
        v = self.validated(ProduceInput)
        record = message_services.message_produce(
            cluster=self.get_cluster(),
            topic=name,
            value=v.get("value"),
            key=v.get("key"),
            headers=v.get("headers"),
            partition=v.get("partition"),
            encoding=v["encoding"],
        )
        return Response(
            {
                "partition": record.partition,
                "offset": record.offset,
                "timestamp_ms": record.timestamp_ms,
            },
            status=status.HTTP_201_CREATED,
        )


class ConsumerGroupListAPIView(ClusterScopedAPIView):
    required_action = Action.TOPIC_VIEW
    serializer_class = GroupRowOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Substring of the group id."),
            OpenApiParameter(
                "ordering",
                str,
                description="group, state, members or lag; '-' for descending. Sorts the whole "
                "list before it is paged.",
            ),
        ],
        responses={200: GroupRowOutput(many=True)},
        operation_id="clusters_consumer_groups_list",
    )
    def get(self, request, pk):
        rows = group_services.group_list(
            cluster=self.get_cluster(),
            search=request.query_params.get("search", ""),
            ordering=request.query_params.get("ordering", "group"),
        )
        page = self.paginate_queryset(rows)  # the documented page object, like every list
        return self.get_paginated_response(GroupRowOutput(page, many=True).data)


class ConsumerGroupDetailAPIView(ClusterScopedAPIView):
    required_actions = {"DELETE": Action.TOPIC_MANAGE}
    required_action = Action.TOPIC_VIEW
    serializer_class = GroupDetailOutput

    @extend_schema(responses={200: GroupDetailOutput})
    def get(self, request, pk, group):
        detail = group_services.group_get(cluster=self.get_cluster(), group=group)
        return Response(GroupDetailOutput(detail).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk, group):
        group_services.group_delete(cluster=self.get_cluster(), group=group)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsumerGroupResetAPIView(ClusterScopedAPIView):
    required_action = Action.TOPIC_MANAGE
    serializer_class = ResetOffsetsInput

    @extend_schema(
        request=ResetOffsetsInput,
        responses={200: ResetOffsetsOutput},
        parameters=[
            OpenApiParameter(
                "dry_run", bool, description="1: compute the new offsets, commit nothing."
            )
        ],
    )
    def post(self, request, pk, group):
        v = self.validated(ResetOffsetsInput)
        timestamp = v.get("timestamp")
        result = group_services.group_reset_offsets(
            cluster=self.get_cluster(),
            group=group,
            to=v["to"],
            topic=v.get("topic") or None,
            timestamp=message_services.parse_timestamp(timestamp) if timestamp else None,
            offset=v.get("offset"),
            dry_run=request.query_params.get("dry_run") in ("1", "true"),
        )
        return Response(
            {
                "offsets": [
                    {"topic": t, "partition": p, "offset": o}
                    for (t, p), o in sorted(result.items())
                ]
            }
        )
