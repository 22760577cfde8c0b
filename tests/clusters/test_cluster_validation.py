"""Bad input to cluster creation: a clear, field-level error and nothing created."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from clusters.models import AccessKey, Cluster, ClusterEvent
from clusters.services.clusters import ClusterSpec, cluster_create
from tests.factories import ClusterFactory, MembershipFactory


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug="acme")


def create(member, **spec):
    return cluster_create(team=member.team, user=member.user, spec=ClusterSpec(**spec))


def assert_refused(member, field, message, **spec):
    before = (Cluster.objects.count(), AccessKey.objects.count(), ClusterEvent.objects.count())
    with pytest.raises(ValidationError) as excinfo:
        create(member, **spec)
    errors = excinfo.value.message_dict
    assert field in errors, errors
    assert message in " ".join(errors[field])
    after = (Cluster.objects.count(), AccessKey.objects.count(), ClusterEvent.objects.count())
    assert after == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "1–64 chars"),
        ("has space", "letters, digits and '-'"),
        ("dot.ted", "letters, digits and '-'"),
        ("x" * 65, "1–64 chars"),
        ("ünïcode", "letters, digits and '-'"),
    ],
)
def test_bad_names(member, name, message):
    assert_refused(member, "name", message, name=name)


def test_64_characters_is_the_longest_name(member):
    # Provisioning is enqueued on commit, which never comes inside a test transaction.
    created = create(member, name="x" * 64)
    assert created.cluster.name == "x" * 64


def test_duplicate_name_in_the_team(member):
    ClusterFactory(team=member.team, name="orders")
    assert_refused(member, "name", "already has a cluster named 'orders'", name="orders")


def test_same_name_in_another_team_is_fine(member):
    ClusterFactory(name="orders")  # another team
    assert create(member, name="orders").cluster.team == member.team


def test_a_deleted_cluster_name_can_be_reused(member):
    ClusterFactory(team=member.team, name="orders", state=Cluster.State.DELETED)
    assert create(member, name="orders").cluster.state == Cluster.State.CREATING


@pytest.mark.parametrize(
    ("ips", "message"),
    [
        (["10.0.0.0/24"], "CIDR range"),
        (["10.0.0.300"], "not a valid IPv4 or IPv6 address"),
        (["localhost"], "not a valid"),
    ],
)
def test_bad_client_ips(member, ips, message):
    assert_refused(member, "allowed_client_ips", message, name="c1", allowed_client_ips=ips)


def test_client_ips_are_normalised_and_deduplicated(member):
    created = create(member, name="c1", allowed_client_ips=["10.0.0.1", " 10.0.0.1", "::1"])
    assert created.cluster.allowed_client_ips == ["10.0.0.1", "::1"]


def test_unknown_policy_template(member):
    assert_refused(
        member,
        "policy_template",
        "Unknown policy template 'superuser'",
        name="c1",
        policy_template="superuser",
    )


def test_custom_policy_needs_a_document(member):
    assert_refused(
        member,
        "policy_document",
        "non-empty 'Statement'",
        name="c1",
        policy_template="custom",
        policy_document={"Version": "2012-10-17"},
    )


def test_too_many_tags(member):
    tags = {f"k{i}": "v" for i in range(51)}
    assert_refused(member, "tags", "At most 50 tags", name="c1", tags=tags)


@override_settings(SKIFF_MAX_CLUSTERS_PER_TEAM=2)
def test_team_cluster_limit(member):
    ClusterFactory.create_batch(2, team=member.team)
    ClusterFactory(team=member.team, state=Cluster.State.DELETED)  # does not count
    assert_refused(member, "name", "limit of 2 clusters", name="one-too-many")


def test_all_field_errors_are_reported_at_once(member):
    with pytest.raises(ValidationError) as excinfo:
        create(member, name="bad name", allowed_client_ips=["1.2.3.0/8"], policy_template="nope")
    assert {"name", "allowed_client_ips", "policy_template"} <= set(excinfo.value.message_dict)


def test_created_key_secret_is_long_random_and_never_stored_in_clear(member):
    created = create(member, name="c1")
    assert len(created.secret) >= 32
    key = AccessKey.objects.get()
    assert created.secret not in str(AccessKey.objects.values().get())
    assert key.username.startswith("acme.c1.initial.")
