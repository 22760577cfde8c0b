"""A create's transaction holds only its writes (issue 20, goal 4).

On SQLite every transaction holds the database's one write lock from its BEGIN (IMMEDIATE) to
its commit, so whatever a create does inside it, 20 creates at once do one after the other.
Validation (the name, the policy), the capacity check (every cell's partitions) and sealing
the key's secret only read or compute: they must run before the transaction opens. Observed
with the real services, not timed.
"""

import uuid

import pytest
from django.db import connection

from clusters.models import Cluster
from clusters.services import clusters as cluster_services
from clusters.services.clusters import ClusterSpec, cluster_create
from console.errors import ValidationFailed
from tests.factories import MembershipFactory


@pytest.mark.django_db(transaction=True)
def test_validation_capacity_and_sealing_run_outside_the_transaction(monkeypatch):
    member = MembershipFactory(team__slug=f"x{uuid.uuid4().hex[:8]}")
    seen: dict[str, bool] = {}

    def spy(name, real):
        def call(*args, **kwargs):
            seen[name] = connection.in_atomic_block
            return real(*args, **kwargs)

        monkeypatch.setattr(cluster_services, name, call)

    for name in ("validate_cluster_spec", "check_fleet_room_for_cluster", "seal"):
        spy(name, getattr(cluster_services, name))
    spy("check_cluster_limit", cluster_services.check_cluster_limit)
    monkeypatch.setattr(cluster_services, "_enqueue_provisioning", lambda cluster_id: None)

    created = cluster_create(team=member.team, user=member.user, spec=ClusterSpec(name="quick"))

    assert created.cluster.state == Cluster.State.CREATING
    assert seen == {
        "validate_cluster_spec": False,
        "check_fleet_room_for_cluster": False,
        "seal": False,
        "check_cluster_limit": True,  # the team's limit is counted under the lock
    }, seen


@pytest.mark.django_db(transaction=True)
def test_a_name_taken_meanwhile_answers_as_validation_does(monkeypatch):
    """Validation ran before the lock; the database's constraint still refuses a second
    cluster of the name, with the message validation gives."""
    member = MembershipFactory(team__slug=f"y{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(cluster_services, "_enqueue_provisioning", lambda cluster_id: None)
    real = cluster_services.validate_cluster_spec

    def validate_then_lose_the_race(team, spec):
        clean = real(team, spec)
        monkeypatch.setattr(cluster_services, "validate_cluster_spec", real)
        cluster_create(team=team, user=member.user, spec=ClusterSpec(name=spec.name))
        return clean

    monkeypatch.setattr(cluster_services, "validate_cluster_spec", validate_then_lose_the_race)
    with pytest.raises(ValidationFailed, match="already has a cluster named 'dup'"):
        cluster_create(team=member.team, user=member.user, spec=ClusterSpec(name="dup"))
    assert Cluster.objects.filter(team=member.team, name="dup").count() == 1
