"""Admission by capacity (issue 13): a cell hosts at most its partition budget.

The budget is in partition replicas (fleet.selectors.cell_partition_budget: brokers x
SKIFF_PARTITIONS_PER_BROKER); what a cell hosts is counted from the Topic rows of every cluster
placed on it (partitions x replication factor), which the topic sync keeps equal to the cell.
Topic creation and partition growth that would pass it are refused; a new cluster is placed
only on a cell with room for at least one default topic.
"""

from __future__ import annotations

from django.db.models import F, Sum

from clusters.models import Cluster, Topic
from clusters.selectors import CellRoom, open_cell_rooms
from console.errors import ServiceUnavailable, ValidationFailed
from fleet import limits
from fleet.models import Cell
from fleet.selectors import NEW_CLUSTER_PARTITIONS, cell_partition_budget, cell_partition_budget_for

# Room a cell must have left to accept a new cluster (one topic of the default size) is
# fleet.selectors.NEW_CLUSTER_PARTITIONS: placement and this module read the same number.


def cell_replication_factor(cell: Cell) -> int:
    return limits.cell_replication_factor(cell.brokers.count())


def cell_replicas_used(cell: Cell) -> int:
    return (
        Topic.objects.filter(cluster__cell=cell)
        .exclude(cluster__state=Cluster.State.DELETED)
        .aggregate(n=Sum(F("partitions") * F("replication_factor")))["n"]
        or 0
    )


def cell_free_partitions(cell: Cell) -> int:
    """Partitions (at the cell's replication factor) the cell can still take."""
    free = cell_partition_budget(cell) - cell_replicas_used(cell)
    return max(free, 0) // cell_replication_factor(cell)


def check_cell_capacity(cell: Cell, *, adding: int, field_name: str = "partitions") -> None:
    """ValidationFailed if `adding` partitions would put the cell over its partition budget."""
    if adding <= 0:
        return
    free = cell_free_partitions(cell)
    if adding > free:
        raise ValidationFailed(
            {
                field_name: f"The platform's cell for this cluster has room for {free:,} more "
                f"partitions, not {adding:,} (its capacity is "
                f"{cell_partition_budget(cell) // cell_replication_factor(cell):,} partitions). "
                "Use fewer partitions, or contact the platform team to add capacity."
            }
        )


def cell_has_room_for_cluster(cell: Cell) -> bool:
    return cell_free_partitions(cell) >= NEW_CLUSTER_PARTITIONS


def room_free_partitions(room: CellRoom) -> int:
    """Partitions (at the cell's replication factor) a healthy, open cell can still take."""
    free = max(cell_partition_budget_for(room.serving_brokers) - room.replicas, 0)
    return free // limits.cell_replication_factor(room.serving_brokers)


def check_fleet_room_for_cluster() -> None:
    """Refuse a new cluster when open, healthy cells exist but none has room for it.

    The room is placement's (fleet.selectors.placement_candidates: a healthy, open cell with
    room for one default topic); a cell that is draining or closed (admission) counts as none.
    Every create asks this before it writes anything, so it reads the rooms in one query
    (open_cell_rooms) rather than placement's ranking (issue 20: 20 creates at once).
    """
    free = [room_free_partitions(room) for room in open_cell_rooms()]
    if free and max(free) < NEW_CLUSTER_PARTITIONS:
        raise ServiceUnavailable(
            "Every Kafka cell is at its partition capacity, so no new cluster can be placed "
            "now. The platform team has been told; try again later.",
            code="no_cell_capacity",
        )
