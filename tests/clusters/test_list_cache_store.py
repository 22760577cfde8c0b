"""Storing a list snapshot costs one pickling, and nothing reads it back needlessly (issue 20).

The refresh runs in the console's process in the embedded topology and holds the GIL while it
works: storing 2,400 topics must not also fetch and unpickle the previous snapshot (to compare
when it was read: the version stamp says so), and the process that stored a snapshot serves it
as it is, without unpickling it again. Whatever backs the `lists` cache (Redis or memory),
these hold; the test counts which keys are fetched.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from clusters.services import list_cache


class Recording:
    """The `lists` cache, recording every key fetched."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.fetched: list[str] = []

    def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        self.fetched.append(key)
        return self.real.get(key, *args, **kwargs)

    def get_many(self, keys: list[str], *args: Any, **kwargs: Any) -> Any:
        self.fetched.extend(keys)
        return self.real.get_many(keys, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def values_fetched(self) -> list[str]:
        return [k for k in self.fetched if ":value:" in k]


@pytest.fixture
def cache(monkeypatch) -> Recording:
    recording = Recording(list_cache._cache())
    monkeypatch.setattr(list_cache, "_cache", lambda: recording)
    return recording


CLUSTER = 987_654  # no database row needed: the store is keyed by id


@pytest.fixture(autouse=True)
def clean():
    list_cache.drop("topics", CLUSTER)
    yield
    list_cache.drop("topics", CLUSTER)


def test_a_put_compares_versions_and_the_storing_process_serves_what_it_stored(cache):
    first = {"rows": list(range(1000))}
    list_cache.snapshot_put("topics", CLUSTER, first, started=time.time())
    second = {"rows": list(range(1001))}
    list_cache.snapshot_put("topics", CLUSTER, second, started=time.time())
    assert cache.values_fetched() == []  # the version stamps were enough to compare

    stored = list_cache.snapshot_get("topics", CLUSTER)
    assert stored is not None and stored.value is second  # the very object: not unpickled
    assert cache.values_fetched() == []

    # An older read does not replace a newer one.
    list_cache.snapshot_put("topics", CLUSTER, {"rows": []}, started=time.time() - 60)
    again = list_cache.snapshot_get("topics", CLUSTER)
    assert again is not None and again.value is second


def test_another_process_s_store_is_read_once(cache):
    list_cache.snapshot_put("topics", CLUSTER, {"rows": [1]}, started=time.time())
    list_cache._memo.clear()  # as in a web process that did not store it
    for _ in range(3):
        stored = list_cache.snapshot_get("topics", CLUSTER)
        assert stored is not None and stored.value == {"rows": [1]}
    assert len(cache.values_fetched()) == 1  # unpickled on the first request only


def test_a_patch_is_served_by_its_process_without_reading_it_back(cache):
    list_cache.snapshot_put("topics", CLUSTER, {"rows": [1, 2]}, started=time.time())
    list_cache.snapshot_patch("topics", CLUSTER, lambda v: {"rows": v["rows"][1:]})
    fetched = len(cache.values_fetched())  # the patch reads the stored value to change it
    stored = list_cache.snapshot_get("topics", CLUSTER)
    assert stored is not None and stored.value == {"rows": [2]}
    assert len(cache.values_fetched()) == fetched
