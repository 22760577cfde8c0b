"""Placement (issue 14): a new serverless cluster goes to the open, healthy cell with the most
headroom (partitions, then bytes stored, then ingress); draining and closed cells take none; a
placed cluster stays where it is. Two Cell rows, no Kafka: placement reads the database only."""

import pytest
from django.utils import timezone

from clusters.models import Cluster, Topic
from clusters.services import provisioning
from clusters.services.capacity import check_fleet_room_for_cluster
from clusters.services.provisioning import ProvisioningError, least_loaded_healthy_cell
from console.errors import ServiceUnavailable
from fleet.models import Broker, Cell, TopicMinuteUsage
from fleet.selectors import placement_candidates
from tests.factories import CellFactory, ClusterFactory

pytestmark = pytest.mark.django_db


def three_brokers(cell: Cell) -> Cell:
    for node_id in (1, 2, 3):
        Broker.objects.create(
            cell=cell, node_id=node_id, host="127.0.0.1", port=19000 + node_id, metrics_url=""
        )
    return cell


def topic(cluster: Cluster, name: str, partitions: int) -> Topic:
    return Topic.objects.create(
        cluster=cluster,
        name=name,
        partitions=partitions,
        replication_factor=3,
        created_at=timezone.now(),
    )


@pytest.fixture
def two_cells(settings):
    # 3 brokers x 300 replicas at RF 3: 300 partitions per cell.
    settings.SKIFF_PARTITIONS_PER_BROKER = 300
    return three_brokers(CellFactory(name="alpha")), three_brokers(CellFactory(name="beta"))


def test_a_new_cluster_goes_to_the_cell_with_more_free_partitions(two_cells):
    alpha, beta = two_cells
    topic(ClusterFactory(cell=alpha), "big", 120)
    topic(ClusterFactory(cell=beta), "small", 10)

    assert least_loaded_healthy_cell() == beta
    ranked = placement_candidates()
    assert [(c.cell.name, c.rank) for c in ranked] == [("beta", 1), ("alpha", 2)]
    assert ranked[0].load.free_partitions == 290
    assert ranked[1].load.free_partitions == 180
    assert "290 of 300 partitions free" in ranked[0].reason


def test_with_equal_partitions_the_cell_storing_less_then_taking_less_ingress_wins(two_cells):
    alpha, beta = two_cells
    on_alpha, on_beta = ClusterFactory(cell=alpha), ClusterFactory(cell=beta)
    minute = timezone.now().replace(second=0, microsecond=0) - timezone.timedelta(minutes=2)
    TopicMinuteUsage.objects.create(cluster=on_alpha, topic="t", minute=minute, storage_bytes=10)
    TopicMinuteUsage.objects.create(cluster=on_beta, topic="t", minute=minute, storage_bytes=900)
    assert least_loaded_healthy_cell() == alpha

    TopicMinuteUsage.objects.filter(cluster=on_beta).update(storage_bytes=10, bytes_in=5_000)
    assert least_loaded_healthy_cell() == alpha  # same storage: less ingress wins
    TopicMinuteUsage.objects.filter(cluster=on_alpha).update(bytes_in=9_000)
    assert least_loaded_healthy_cell() == beta


def test_a_draining_or_closed_cell_gets_no_new_cluster(two_cells):
    alpha, beta = two_cells
    topic(ClusterFactory(cell=alpha), "big", 200)  # beta has far more room...
    beta.admission = Cell.Admission.DRAINING
    beta.save()
    assert least_loaded_healthy_cell() == alpha  # ...but it is draining
    by_name = {c.cell.name: c for c in placement_candidates()}
    assert not by_name["beta"].eligible
    assert by_name["beta"].reason == "admission is draining"

    alpha.admission = Cell.Admission.CLOSED
    alpha.save()
    with pytest.raises(ProvisioningError, match="No healthy Kafka cell"):
        least_loaded_healthy_cell()


def test_an_unhealthy_cell_takes_none_and_a_full_open_cell_is_refused_at_creation(two_cells):
    alpha, beta = two_cells
    beta.state = Cell.State.DEGRADED
    beta.save()
    topic(ClusterFactory(cell=alpha), "full", 296)  # 4 free < one default topic (6)
    with pytest.raises(ServiceUnavailable, match="partition capacity"):
        check_fleet_room_for_cluster()
    with pytest.raises(ProvisioningError, match="partition capacity"):
        least_loaded_healthy_cell()


def test_a_placed_cluster_stays_on_its_cell(two_cells):
    alpha, beta = two_cells
    cluster = ClusterFactory(cell=alpha)
    topic(ClusterFactory(cell=alpha), "big", 200)
    assert least_loaded_healthy_cell() == beta
    provisioning.step_place_on_cell(cluster)  # already placed: placement does not move it
    cluster.refresh_from_db()
    assert cluster.cell == alpha


def test_deleted_clusters_and_unregistered_brokers_do_not_count(two_cells):
    alpha, beta = two_cells
    gone = ClusterFactory(cell=alpha, state=Cluster.State.DELETED)
    topic(gone, "old", 250)
    topic(ClusterFactory(cell=beta), "live", 10)
    assert least_loaded_healthy_cell() == alpha
    # A retired broker (unregistered) carries nothing: alpha's budget drops to 2 brokers.
    Broker.objects.filter(cell=alpha, node_id=3).update(state=Broker.State.UNREGISTERED)
    by_name = {c.cell.name: c for c in placement_candidates()}
    assert by_name["alpha"].load.budget_replicas == 600
