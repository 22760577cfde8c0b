"""Helpers shared by the access-control integration tests."""

import uuid

from clusters.models import Cluster
from clusters.services.clusters import ClusterSpec, cluster_create
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def new_member(prefix: str = "t"):
    return MembershipFactory(team__slug=unique_slug(prefix))


def active_cluster(member, capture, **spec):
    """A provisioned ACTIVE cluster and its initial key's secret."""
    spec.setdefault("name", "orders")
    spec.setdefault("policy_template", "admin")
    with capture(execute=True):
        created = cluster_create(team=member.team, user=member.user, spec=ClusterSpec(**spec))
    cluster = Cluster.objects.select_related("team", "cell").get(pk=created.cluster.pk)
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
    return cluster, created.initial_key, created.secret


def as_key(cell, username, secret, timeout=10.0, mechanism="SCRAM-SHA-512"):
    """A client connection with a key: SCRAM-SHA-512, or PLAIN (issue 17) when asked."""
    return gateway.KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=username,
        password=secret,
        ca_path=cell.ca_path,
        timeout=timeout,
        mechanism=mechanism,
    )
