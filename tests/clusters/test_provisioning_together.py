"""Creates provisioned together (issue 20, goal 4): one request of each kind for a batch, and
a failure that stays the failing cluster's own.

`provision_clusters` is what the group commit (`provisioning._GroupCommit`) runs for the
creates that arrived while another provisioning ran; the last test drives the group commit
itself with a stand-in for `provision_clusters`.
"""

import threading
import uuid
from collections import Counter

import pytest

from clusters.models import Cluster, ClusterEvent
from clusters.services import provisioning
from clusters.services.clusters import ClusterSpec, cluster_create
from fleet.kafka.errors import KafkaUnavailable
from fleet.kafka.plain import plain_hash_matches
from fleet.kafka.platform import PlatformSuperuser, cell_plain_credentials
from tests.clusters.test_provisioning_integration import can_log_in, footprint
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

SHARED_CALLS = ("create_scram_users", "create_acls", "alter_many_user_quotas")


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"g{uuid.uuid4().hex[:8]}")


def creating(member, capture, names):
    """Clusters recorded CREATING, their provisioning not run (the batch runs it)."""
    created = []
    for name in names:
        with capture(execute=False):
            created.append(
                cluster_create(team=member.team, user=member.user, spec=ClusterSpec(name=name))
            )
    return created


@pytest.fixture
def shared_calls(monkeypatch):
    counts: Counter = Counter()
    for name in (*SHARED_CALLS, "create_scram_user"):
        real = getattr(PlatformSuperuser, name)

        def counted(self, *args, _name=name, _real=real, **kwargs):
            counts[_name] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(PlatformSuperuser, name, counted)
    return counts


def test_a_batch_makes_one_request_of_each_kind_and_every_cluster_works(
    cell, member, admin_connection, shared_calls, django_capture_on_commit_callbacks
):
    created = creating(member, django_capture_on_commit_callbacks, ["a", "b", "c"])

    provisioning.provision_clusters(cluster_ids=[c.cluster.pk for c in created])

    assert shared_calls == Counter(dict.fromkeys(SHARED_CALLS, 1)), shared_calls
    plain = cell_plain_credentials(cell)
    for c in created:
        cluster = Cluster.objects.get(pk=c.cluster.pk)
        assert cluster.state == Cluster.State.ACTIVE and cluster.progress == "active"
        assert ClusterEvent.objects.filter(cluster=cluster, kind="activated").count() == 1
        assert not cluster.access_keys.exclude(sealed_secret="").exists()
        username = c.initial_key.username
        eventually(lambda u=username, s=c.secret: _assert(can_log_in(cell, u, s)), timeout=15)
        on_cell = footprint(admin_connection, cluster)
        assert on_cell["acls"] and on_cell["quotas"].get(username), on_cell
        if plain is not None:  # cells the platform launches also check PLAIN
            assert plain_hash_matches(plain.line(username), c.secret)
    # Run again, as a duplicate task would: nothing changes, no second event.
    provisioning.provision_clusters(cluster_ids=[c.cluster.pk for c in created])
    assert ClusterEvent.objects.filter(cluster__team=member.team, kind="activated").count() == 3


def test_a_failing_shared_request_falls_back_to_one_by_one(
    cell, member, monkeypatch, shared_calls, django_capture_on_commit_callbacks
):
    created = creating(member, django_capture_on_commit_callbacks, ["a", "b"])

    real_create_acls = PlatformSuperuser.create_acls
    calls = {"n": 0}

    # Fail only the shared request (it names both clusters' keys); one cluster's works.
    def create_acls(self, bindings):
        if len({b.principal for b in bindings}) > 1:
            raise KafkaUnavailable("Injected failure: the cell did not answer in time.")
        calls["n"] += 1
        return real_create_acls(self, bindings)

    monkeypatch.setattr(PlatformSuperuser, "create_acls", create_acls)

    provisioning.provision_clusters(cluster_ids=[c.cluster.pk for c in created])

    assert calls["n"] == 2  # one per cluster, after the shared one failed
    assert shared_calls["create_scram_user"] == 2
    for c in created:
        assert Cluster.objects.get(pk=c.cluster.pk).state == Cluster.State.ACTIVE


def test_a_cluster_that_cannot_be_provisioned_fails_alone(
    cell, member, admin_connection, django_capture_on_commit_callbacks
):
    good, bad = creating(member, django_capture_on_commit_callbacks, ["good", "bad"])
    # Its secret is gone and Kafka never had the user: nothing can create its credential.
    bad.cluster.access_keys.update(sealed_secret="")

    provisioning.provision_clusters(cluster_ids=[good.cluster.pk, bad.cluster.pk])

    good_row, bad_row = (Cluster.objects.get(pk=c.cluster.pk) for c in (good, bad))
    assert good_row.state == Cluster.State.ACTIVE
    assert bad_row.state == Cluster.State.FAILED and "no secret left" in bad_row.state_reason
    assert footprint(admin_connection, bad_row)["acls"] == []
    assert bad.initial_key.username not in gateway.list_scram_users(admin_connection)


def test_the_group_commit_runs_what_arrived_meanwhile_as_one_batch(monkeypatch):
    batches: list[list[int]] = []
    first_started, release_first = threading.Event(), threading.Event()

    def stand_in(*, cluster_ids):
        batches.append(sorted(cluster_ids))
        if len(batches) == 1:
            first_started.set()
            assert release_first.wait(30), "the test did not release the first batch"
        if 13 in cluster_ids:
            raise RuntimeError("batch failed")

    monkeypatch.setattr(provisioning, "provision_clusters", stand_in)
    together = provisioning._GroupCommit()
    errors: dict[int, BaseException] = {}

    def run(cluster_id: int) -> None:
        try:
            together.run(cluster_id)
        except BaseException as exc:
            errors[cluster_id] = exc

    first = threading.Thread(target=run, args=(1,))
    first.start()
    assert first_started.wait(30), "the first provisioning did not start"
    others = [threading.Thread(target=run, args=(n,)) for n in (11, 12, 13)]
    for thread in others:
        thread.start()
    eventually(lambda: _assert(len(together._waiting) == 3), timeout=30)
    release_first.set()
    for thread in [first, *others]:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a provisioning did not return"

    assert batches == [[1], [11, 12, 13]]
    # A batch's unexpected error is each of its callers' (each task records its failure).
    assert set(errors) == {11, 12, 13} and 1 not in errors
    assert not together._running and not together._waiting


def _assert(condition: bool) -> None:
    assert condition
