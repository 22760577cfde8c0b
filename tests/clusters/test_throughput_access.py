"""Who may subscribe to a cluster's live throughput (checked at connect and every minute)."""

import pytest

from clusters.models import Cluster
from clusters.throughput import throughput_subscription_allowed
from tests.factories import ClusterFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_members_with_a_viewing_role_only_and_only_while_the_cluster_lives():
    member = MembershipFactory(role="viewer")
    cluster = ClusterFactory(team=member.team)
    # Another, deleted cluster of the same team changes nothing for this one.
    ClusterFactory(team=member.team, state=Cluster.State.DELETED)
    assert throughput_subscription_allowed(member.user, cluster.pk)
    assert not throughput_subscription_allowed(UserFactory(), cluster.pk)
    assert not throughput_subscription_allowed(member.user, ClusterFactory().pk)

    cluster.state = Cluster.State.DELETED
    cluster.save(update_fields=["state"])
    assert not throughput_subscription_allowed(member.user, cluster.pk)


def test_an_inactive_user_or_a_removed_member_loses_access():
    member = MembershipFactory(role="developer")
    cluster = ClusterFactory(team=member.team)
    member.user.is_active = False
    member.user.save(update_fields=["is_active"])
    assert not throughput_subscription_allowed(member.user, cluster.pk)
    member.user.is_active = True
    member.user.save(update_fields=["is_active"])
    assert throughput_subscription_allowed(member.user, cluster.pk)
    member.delete()
    assert not throughput_subscription_allowed(member.user, cluster.pk)
