"""Which tenants live on a cell: the one thing the fleet needs to know of the apps above it.

The fleet app never imports the clusters app (an import contract says so), yet the sampler must
map wire topics to clusters. The clusters app registers a `TenantDirectory` when Django starts
(`ClustersConfig.ready`), and fleet code asks through `tenant_directory()`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class CellTenancy(NamedTuple):
    """What the tenants of one cell hold: live clusters, partitions and partition replicas."""

    clusters: int
    partitions: int
    replicas: int


class TenantDirectory(Protocol):
    def live_namespaces(self, *, cell_ids: set[int]) -> dict[tuple[int, str], int]:
        """(cell id, wire prefix) → tenant (cluster) id, for the live tenants of these cells."""
        ...

    def existing_tenants(self, *, tenant_ids: set[int]) -> set[int]:
        """The ids among these that still exist (a deleted cluster's usage is dropped)."""
        ...

    def cell_tenancy(self, *, cell_ids: set[int]) -> dict[int, CellTenancy]:
        """Per cell: its live clusters and their topics' partitions and replicas (the fleet
        pages and placement compare these with the cell's partition budget)."""
        ...


_directory: TenantDirectory | None = None


def register_tenant_directory(directory: TenantDirectory) -> None:
    global _directory
    _directory = directory


def tenant_directory() -> TenantDirectory:
    if _directory is None:
        raise RuntimeError("No tenant directory is registered (is the clusters app installed?)")
    return _directory
