"""Snapshots of a cluster's lists (topics, consumer groups), kept warm in the background.

A list page must not pay for a bulk read of the cell: at 2,400 topics that read takes 2 s on an
idle machine and 5 s on a loaded one. So the read happens in a periodic task
(`clusters.tasks.refresh_lists_task`, run by Celery beat or the embedded scheduler), which
stores one snapshot per (list, cluster) in the `lists` cache (Redis in the production topology,
so web processes see what the worker read; process memory in the embedded one). A request only
reads the stored snapshot, however old; the page says when it was read.

Which clusters are kept warm: those whose list somebody looked at within
`SKIFF_LISTS_KEEP_WARM` seconds (a day by default), refreshed every `SKIFF_LISTS_REFRESH`
seconds. Only the very first view of a list (or one after a day without views, or after the
cache was lost) reads synchronously; `cold_reads` counts those.

A change made through the console (a topic created, deleted, grown, purged, a message produced)
patches the stored snapshot where it can and marks it stale: the next tick of the task reads it
again, whatever its age. A change made over the Kafka protocol is found by the topic sync, which
marks the snapshot stale the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.core.cache import caches

Kind = Literal["topics", "groups"]
KINDS: tuple[Kind, ...] = ("topics", "groups")
CACHE_ALIAS = "lists"
_GENERATION = "skiff:lists:generation"
# A snapshot outlives its keep-warm window by a margin: the next view after a quiet day is
# still served from it (old, and saying so) rather than read in the request.
_TTL_MARGIN = 3600.0

# Counters for tests and benches (per process).
cold_reads: dict[str, int] = {"topics": 0, "groups": 0}


@dataclass(frozen=True)
class Stored:
    value: Any
    started: float  # wall clock (time.time()) when the read began
    stale: bool  # a change was made after the read began


def _cache():
    return caches[CACHE_ALIAS]


def _generation() -> int:
    return int(_cache().get(_GENERATION, 0))


def _key(part: str, kind: Kind, cluster_id: int, generation: int | None = None) -> str:
    generation = _generation() if generation is None else generation
    return f"skiff:lists:{generation}:{part}:{kind}:{cluster_id}"


def _ttl() -> float:
    return settings.SKIFF_LISTS_KEEP_WARM + _TTL_MARGIN


def snapshot_get(kind: Kind, cluster_id: int) -> Stored | None:
    generation = _generation()
    keys = [_key(p, kind, cluster_id, generation) for p in ("value", "stale")]
    found = _cache().get_many(keys)
    entry = found.get(keys[0])
    if entry is None:
        return None
    value, started = entry
    stale_at = found.get(keys[1])
    return Stored(value, started, stale=stale_at is not None and stale_at >= started)


def snapshot_put(kind: Kind, cluster_id: int, value: Any, *, started: float) -> None:
    """Store a read that began at `started` (wall clock), unless a newer read is stored."""
    key = _key("value", kind, cluster_id)
    current = _cache().get(key)
    if current is not None and current[1] > started:
        return
    _cache().set(key, (value, started), _ttl())


def snapshot_patch(kind: Kind, cluster_id: int, patch: Callable[[Any], Any]) -> None:
    """Apply a change the console made to the stored snapshot (it stays marked stale)."""
    key = _key("value", kind, cluster_id)
    current = _cache().get(key)
    if current is not None:
        _cache().set(key, (patch(current[0]), current[1]), _ttl())


def mark_stale(kind: Kind, cluster_id: int) -> None:
    """The stored snapshot predates a change: the next refresh reads it again."""
    _cache().set(_key("stale", kind, cluster_id), time.time(), _ttl())


def drop(kind: Kind, cluster_id: int) -> None:
    """Forget one snapshot: the next view reads synchronously (tests force fresh reads)."""
    _cache().delete(_key("value", kind, cluster_id))


def drop_all() -> None:
    """Forget every snapshot (a new generation of keys; the old ones expire)."""
    cache = _cache()
    cache.set(_GENERATION, _generation() + 1, None)


def note_viewed(kind: Kind, cluster_id: int) -> None:
    _cache().set(_key("viewed", kind, cluster_id), time.time(), settings.SKIFF_LISTS_KEEP_WARM)


def due_for_refresh(kind: Kind, cluster_ids: Iterable[int], *, now: float) -> list[int]:
    """Of these clusters, those viewed lately whose snapshot is missing, old or stale."""
    ids = list(cluster_ids)
    if not ids:
        return []
    generation = _generation()
    keys = {
        (part, cid): _key(part, kind, cid, generation)
        for cid in ids
        for part in ("viewed", "value", "stale")
    }
    found = _cache().get_many(list(keys.values()))
    due = []
    for cid in ids:
        if keys[("viewed", cid)] not in found:
            continue
        entry = found.get(keys[("value", cid)])
        stale_at = found.get(keys[("stale", cid)])
        if (
            entry is None
            or now - entry[1] >= settings.SKIFF_LISTS_REFRESH
            or (stale_at is not None and stale_at >= entry[1])
        ):
            due.append(cid)
    return due
