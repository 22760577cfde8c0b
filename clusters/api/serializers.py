from rest_framework import serializers

from clusters.models import Cluster


class ClusterOutput(serializers.ModelSerializer):
    wire_prefix = serializers.CharField(read_only=True)
    bootstrap_servers = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "state",
            "state_reason",
            "tags",
            "wire_prefix",
            "bootstrap_servers",
            "created_at",
        ]

    def get_bootstrap_servers(self, cluster: Cluster) -> str | None:
        return cluster.cell.bootstrap_servers if cluster.cell else None
