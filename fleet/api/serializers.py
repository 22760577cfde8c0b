"""Fleet API bodies (issue 14): cells, brokers, operations, placement, registration."""

from rest_framework import serializers

from fleet.models import AutoscaleDecision, Broker, Cell, FleetOperation


class TenancyOutput(serializers.Serializer):
    clusters = serializers.IntegerField()
    partitions = serializers.IntegerField()
    replicas = serializers.IntegerField()


class CellLoadOutput(serializers.Serializer):
    tenancy = TenancyOutput()
    brokers = serializers.IntegerField(help_text="Brokers that serve (not unregistered).")
    replication_factor = serializers.IntegerField()
    budget_replicas = serializers.IntegerField(
        help_text="Partition replicas the cell may host: brokers x SKIFF_PARTITIONS_PER_BROKER."
    )
    capacity_partitions = serializers.IntegerField()
    free_partitions = serializers.IntegerField()
    used_fraction = serializers.FloatField()
    stored_bytes = serializers.IntegerField(help_text="One replica of every tenant topic.")
    ingress_bytes_per_second = serializers.FloatField(help_text="Mean of the last 15 minutes.")


class PlacementOutput(serializers.Serializer):
    cell = serializers.CharField(source="cell.name", help_text="The cell's name.")
    cell_id = serializers.IntegerField(source="cell.pk")
    eligible = serializers.BooleanField(help_text="Whether the cell takes new clusters now.")
    rank = serializers.IntegerField(help_text="1: where the next cluster goes; 0: takes none.")
    reason = serializers.CharField(help_text="Its headroom, or why it takes none.")
    load = CellLoadOutput()


class CellOutput(serializers.ModelSerializer):
    class Meta:
        model = Cell
        fields = [
            "id",
            "name",
            "kind",
            "state",
            "admission",
            "kafka_cluster_id",
            "bootstrap_servers",
            "client_bootstrap_servers",
            "created_at",
            "updated_at",
        ]


class CellListOutput(CellOutput):
    load = CellLoadOutput(read_only=True)
    placement_rank = serializers.IntegerField(read_only=True)
    placement_reason = serializers.CharField(read_only=True)

    class Meta(CellOutput.Meta):
        fields = [*CellOutput.Meta.fields, "load", "placement_rank", "placement_reason"]


class BrokerStatusOutput(serializers.Serializer):
    node_id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=Broker.State.choices,
        help_text="up; down (not registered with the controller, or not answering); fenced "
        "(registered, not heartbeating); unregistered (retired by an operation).",
    )
    host = serializers.CharField()
    port = serializers.IntegerField()
    rack = serializers.CharField(allow_blank=True)
    roles = serializers.CharField(allow_blank=True)
    recorded_state = serializers.CharField()
    registered = serializers.BooleanField(allow_null=True)
    fenced = serializers.BooleanField(allow_null=True)
    is_quorum_voter = serializers.BooleanField()
    replicas = serializers.IntegerField(allow_null=True)
    leaders = serializers.IntegerField(allow_null=True)
    log_bytes = serializers.IntegerField(allow_null=True)
    disk_total_bytes = serializers.IntegerField(allow_null=True)
    disk_usable_bytes = serializers.IntegerField(allow_null=True)
    bytes_in_per_sec = serializers.FloatField(
        allow_null=True, help_text="Null on the first read (two reads make a rate)."
    )
    bytes_out_per_sec = serializers.FloatField(allow_null=True)
    metrics_error = serializers.CharField(allow_blank=True)
    last_scrape_at = serializers.DateTimeField(allow_null=True)
    last_scrape_error = serializers.CharField(allow_blank=True)


class QuorumVoterOutput(serializers.Serializer):
    node_id = serializers.IntegerField()
    log_end_offset = serializers.IntegerField()
    lag = serializers.IntegerField(allow_null=True)
    is_leader = serializers.BooleanField()


class PartitionRefOutput(serializers.Serializer):
    topic = serializers.CharField()
    partition = serializers.IntegerField()

    def to_representation(self, instance):
        topic, partition = instance
        return {"topic": topic, "partition": partition}


class CellStatusOutput(serializers.Serializer):
    health = serializers.ChoiceField(choices=["healthy", "degraded", "down"])
    problems = serializers.ListField(child=serializers.CharField())
    reachable = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    controller_id = serializers.IntegerField(allow_null=True)
    brokers = BrokerStatusOutput(many=True)
    replica_skew = serializers.IntegerField(allow_null=True)
    leader_skew = serializers.IntegerField(allow_null=True)
    quorum_leader_id = serializers.IntegerField(allow_null=True)
    quorum_voters = QuorumVoterOutput(many=True)
    quorum_observers = serializers.ListField(child=serializers.IntegerField())
    quorum_error = serializers.CharField(allow_blank=True)
    topics = serializers.IntegerField()
    partitions = serializers.IntegerField()
    under_replicated = PartitionRefOutput(many=True)
    offline = PartitionRefOutput(many=True)
    under_min_isr = PartitionRefOutput(many=True)
    min_isr = serializers.IntegerField()
    disk_error = serializers.CharField(allow_blank=True)
    metrics_error = serializers.CharField(allow_blank=True)


class AutoscaleDecisionOutput(serializers.ModelSerializer):
    class Meta:
        model = AutoscaleDecision
        fields = ["id", "decided_at", "action", "reason", "metrics", "dry_run", "operation"]


class FleetOperationOutput(serializers.ModelSerializer):
    cell = serializers.SlugRelatedField(slug_field="name", read_only=True)
    cell_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = FleetOperation
        fields = [
            "id",
            "cell",
            "cell_id",
            "kind",
            "mode",
            "broker_ids",
            "state",
            "progress",
            "plan",
            "throttle_bytes_per_second",
            "requested_by",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]


class CellDetailOutput(CellListOutput):
    status = CellStatusOutput(read_only=True, help_text="Read live from the cell.")
    operations = FleetOperationOutput(many=True, read_only=True)
    autoscale_decisions = AutoscaleDecisionOutput(many=True, read_only=True)

    class Meta(CellListOutput.Meta):
        fields = [*CellListOutput.Meta.fields, "status", "operations", "autoscale_decisions"]


class AdmissionInput(serializers.Serializer):
    admission = serializers.ChoiceField(choices=Cell.Admission.choices)


class OperationInput(serializers.Serializer):
    cell = serializers.IntegerField(help_text="The cell's id.")
    kind = serializers.ChoiceField(choices=FleetOperation.Kind.choices)
    mode = serializers.ChoiceField(
        choices=FleetOperation.Mode.choices, required=False, allow_blank=True, default=""
    )
    broker_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=0), required=False, default=list
    )
    throttle_bytes_per_second = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None
    )


class OperationPreviewOutput(serializers.Serializer):
    cell = serializers.IntegerField()
    kind = serializers.CharField()
    mode = serializers.CharField(allow_blank=True)
    broker_ids = serializers.ListField(child=serializers.IntegerField())
    summary = serializers.DictField(help_text="What the operation would do (no side effects).")


class RegisterCellInput(serializers.Serializer):
    name = serializers.SlugField(max_length=50)
    bootstrap_servers = serializers.CharField(max_length=500)
    client_bootstrap_servers = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    username = serializers.CharField(max_length=200, help_text="Admin SCRAM-SHA-512 user.")
    password = serializers.CharField(max_length=500, write_only=True)
    ca_pem = serializers.CharField(help_text="The CA that signed the brokers' certificates (PEM).")
    metrics_url = serializers.CharField(
        max_length=2000,
        help_text="Per broker: a template with {host} or {node_id}, node_id=URL pairs, or one "
        "URL for a one-broker cell.",
    )
    metrics_username = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    metrics_password = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", write_only=True
    )
    admission = serializers.ChoiceField(choices=Cell.Admission.choices, default="open")
