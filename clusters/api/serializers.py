from rest_framework import serializers

from clusters.models import Cluster, PolicyTemplate
from clusters.services.state_waits import MAX_WAIT
from fleet import limits


class ClusterOutput(serializers.ModelSerializer):
    prefix = serializers.CharField(source="wire_prefix", read_only=True)
    bootstrap_servers = serializers.CharField(read_only=True, allow_null=True)
    type = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "type",
            "state",
            "state_reason",
            "progress",
            "prefix",
            "bootstrap_servers",
            "tags",
            "allowed_client_ips",
            "limits",
            "created_at",
        ]

    def get_type(self, cluster: Cluster) -> str:
        return "serverless"

    def get_limits(self, cluster: Cluster) -> dict[str, int]:
        return {
            "ingress_bytes_per_sec": limits.CLUSTER_INGRESS_BYTES_PER_SEC,
            "egress_bytes_per_sec": limits.CLUSTER_EGRESS_BYTES_PER_SEC,
            "max_partitions": limits.MAX_PARTITIONS,
            "max_compacted_partitions": limits.MAX_COMPACTED_PARTITIONS,
            "max_message_bytes": limits.MAX_MESSAGE_BYTES,
            "max_consumer_groups": limits.MAX_CONSUMER_GROUPS,
        }


class InitialKeyOutput(serializers.Serializer):
    username = serializers.CharField()
    secret = serializers.CharField(allow_null=True)


class ClusterCreatedOutput(ClusterOutput):
    initial_key = InitialKeyOutput()

    class Meta(ClusterOutput.Meta):
        fields = [*ClusterOutput.Meta.fields, "initial_key"]


class AccessInput(serializers.Serializer):
    policy_template = serializers.CharField(default=PolicyTemplate.PRODUCE_CONSUME)
    policy_document = serializers.JSONField(required=False, allow_null=True)


class NetworkInput(serializers.Serializer):
    allowed_client_ips = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )


class ClusterUpdateInput(serializers.Serializer):
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True))


class ClusterCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(choices=["serverless"], default="serverless")
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    access = AccessInput(required=False)
    network = NetworkInput(required=False)


class ClusterWaitQuery(serializers.Serializer):
    """`?wait=`: seconds to hold a cluster's answer while it is CREATING or DELETING."""

    wait = serializers.FloatField(required=False, min_value=0, max_value=MAX_WAIT)
