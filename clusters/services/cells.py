"""The cell a cluster is placed on, for the services that act on it."""

from __future__ import annotations

from clusters.models import Cluster
from console.errors import Conflict
from fleet.models import Cell


def cluster_cell(cluster: Cluster) -> Cell:
    """The cluster's cell; Conflict (409) while it is not placed on one (before placement).

    Services that reach the cell check the cluster's state first, so this only narrows
    `Cluster.cell` (nullable in the model) for them; it never reads more than `cluster.cell`.
    """
    cell = cluster.cell
    if cell is None:
        raise Conflict("This cluster is not placed on a cell yet.", code="cluster_not_placed")
    return cell
