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
again, whatever its age. The console also remembers what it created and deleted for a minute
(`note_change`): a refresh that began before the change, or was answered by a broker that had
not applied it yet, is stored with the change applied. A change made over the Kafka protocol is
found by the topic sync, which marks the snapshot stale the same way.
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

# The last snapshot this process read, per key, with the version it was stored under: a request
# asks the cache for the small version stamp and unpickles the snapshot (2,400 rows: tens of ms,
# and half a megabyte from Redis) only when it changed.
_MEMO_SIZE = 256
_memo: dict[str, tuple[Any, tuple[Any, float]]] = {}


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


def _remember(value_key: str, version: Any, entry: tuple[Any, float]) -> None:
    if value_key not in _memo and len(_memo) >= _MEMO_SIZE:
        _memo.pop(next(iter(_memo)), None)
    _memo[value_key] = (version, entry)


def snapshot_get(kind: Kind, cluster_id: int) -> Stored | None:
    generation = _generation()
    keys = [_key(p, kind, cluster_id, generation) for p in ("version", "stale", "value")]
    found = _cache().get_many(keys[:2])
    version = found.get(keys[0])
    if version is None:
        return None
    memo = _memo.get(keys[2])
    if memo is not None and memo[0] == version:
        entry = memo[1]
    else:
        entry = _cache().get(keys[2])
        if entry is None:
            return None
        _remember(keys[2], version, entry)
    value, started = entry
    stale_at = found.get(keys[1])
    return Stored(value, started, stale=stale_at is not None and stale_at >= started)


def _store(kind: Kind, cluster_id: int, entry: tuple[Any, float]) -> None:
    # The value first, then its version: a reader that sees the new version finds the new value.
    generation = _generation()
    value_key = _key("value", kind, cluster_id, generation)
    version = (time.time_ns(), entry[1])
    _cache().set(value_key, entry, _ttl())
    _cache().set(_key("version", kind, cluster_id, generation), version, _ttl())
    # The process that stored it serves it as it is: neither the next refresh nor, in the
    # embedded topology (one process), the next request unpickles what was just pickled.
    _remember(value_key, version, entry)


def snapshot_put(kind: Kind, cluster_id: int, value: Any, *, started: float) -> None:
    """Store a read that began at `started` (wall clock), unless a newer read is stored."""
    # The version stamp says when the stored read began: no need to fetch and unpickle the
    # stored snapshot itself (2,400 topics: ~10 ms of CPU in every refresh) to compare.
    current = _cache().get(_key("version", kind, cluster_id))
    if current is not None and current[1] > started:
        return
    _store(kind, cluster_id, (value, started))


def snapshot_patch(kind: Kind, cluster_id: int, patch: Callable[[Any], Any]) -> None:
    """Apply a change the console made to the stored snapshot (it stays marked stale)."""
    current = _cache().get(_key("value", kind, cluster_id))
    if current is not None:
        _store(kind, cluster_id, (patch(current[0]), current[1]))


def mark_stale(kind: Kind, cluster_id: int) -> None:
    """The stored snapshot predates a change: the next refresh reads it again."""
    _cache().set(_key("stale", kind, cluster_id), time.time(), _ttl())


def drop(kind: Kind, cluster_id: int) -> None:
    """Forget one snapshot: the next view reads synchronously (tests force fresh reads)."""
    _cache().delete_many([_key(p, kind, cluster_id) for p in ("version", "value")])


def drop_all() -> None:
    """Forget every snapshot (a new generation of keys; the old ones expire)."""
    cache = _cache()
    cache.set(_GENERATION, _generation() + 1, None)


# A change the console made stays known for this long: a read that began before it, or that
# was answered by a broker whose metadata had not caught up yet (seconds on a loaded host), is
# stored with the change applied. A topic deleted through the console never comes back on the
# next page because the background refresh read a lagging broker.
RECENT_CHANGE_SECONDS = 60.0
# At most this many recent changes per list are kept (the newest win).
_RECENT_MAX = 500


def note_change(kind: Kind, cluster_id: int, name: str, row: Any | None) -> None:
    """The console created (`row`, the row to show) or deleted (`row=None`) `name`."""
    cache = _cache()
    counter = _key("recent", kind, cluster_id)
    cache.add(counter, 0, _ttl())
    try:
        seq = cache.incr(counter)  # atomic in Redis and in process memory
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, _ttl())
        seq = 1
    cache.set(f"{counter}:{seq}", (time.time(), name, row), RECENT_CHANGE_SECONDS)
    # Lives as long as the newest change: without it, a refresh reads no change keys at all.
    cache.set(f"{counter}:any", True, RECENT_CHANGE_SECONDS)


def recent_changes(kind: Kind, cluster_id: int) -> list[tuple[str, Any | None]]:
    """The console's changes of the last RECENT_CHANGE_SECONDS, oldest first."""
    cache = _cache()
    counter = _key("recent", kind, cluster_id)
    found_counter = cache.get_many([counter, f"{counter}:any"])
    seq = found_counter.get(counter)
    if not seq or f"{counter}:any" not in found_counter:
        return []  # nothing changed within RECENT_CHANGE_SECONDS (most refreshes)
    keys = [f"{counter}:{i}" for i in range(max(1, seq - _RECENT_MAX + 1), seq + 1)]
    found = cache.get_many(keys)
    now = time.time()
    return [
        (found[k][1], found[k][2])
        for k in keys
        if k in found and now - found[k][0] < RECENT_CHANGE_SECONDS
    ]


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
        for part in ("viewed", "version", "stale")
    }
    found = _cache().get_many(list(keys.values()))
    due = []
    for cid in ids:
        if keys[("viewed", cid)] not in found:
            continue
        version = found.get(keys[("version", cid)])  # (token, when the read began)
        stale_at = found.get(keys[("stale", cid)])
        if (
            version is None
            or now - version[1] >= settings.SKIFF_LISTS_REFRESH
            or (stale_at is not None and stale_at >= version[1])
        ):
            due.append(cid)
    return due
