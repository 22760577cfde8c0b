"""The background half of the list snapshots: read what the pages will ask for next.

`refresh_lists` runs every few seconds (`clusters.tasks.refresh_lists_task`, from Celery beat in
the production topology and from the embedded scheduler in `make run`). It reads, for every
ACTIVE cluster whose topic or consumer-group list was viewed lately, the lists whose snapshot is
older than `SKIFF_LISTS_REFRESH` seconds or stale after a change, and stores them
(clusters/services/list_cache.py). One cluster's failure is logged and the others go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusters.models import Cluster
from clusters.services import list_cache
from clusters.services.consumer_groups import refresh_group_snapshot
from clusters.services.topics import refresh_topic_snapshot
from console.errors import ApplicationError

logger = logging.getLogger(__name__)

_READERS: dict[list_cache.Kind, Callable[..., Any]] = {
    "topics": refresh_topic_snapshot,
    "groups": refresh_group_snapshot,
}


@dataclass
class RefreshResult:
    refreshed: dict[str, list[int]] = field(default_factory=dict)  # kind → cluster ids
    failed: dict[str, list[int]] = field(default_factory=dict)


def refresh_lists(*, now: float | None = None) -> RefreshResult:
    """Refresh every list snapshot that is due (see the module's docstring)."""
    now = time.time() if now is None else now
    clusters = {
        c.pk: c
        for c in Cluster.objects.filter(
            state=Cluster.State.ACTIVE, cell__isnull=False
        ).select_related("team", "cell")
    }
    result = RefreshResult()
    for kind in list_cache.KINDS:
        for cluster_id in list_cache.due_for_refresh(kind, clusters, now=now):
            try:
                _READERS[kind](cluster=clusters[cluster_id])
            except ApplicationError as exc:  # the cell did not answer: the next tick retries
                logger.warning("refreshing the %s of cluster %s: %s", kind, cluster_id, exc)
                result.failed.setdefault(kind, []).append(cluster_id)
                continue
            result.refreshed.setdefault(kind, []).append(cluster_id)
    return result
