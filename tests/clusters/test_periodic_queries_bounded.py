"""The periodic passes' database queries and admin requests do not grow with a cell's tenants
(issue 20, goal 3).

Against the session's real cell, three passes are measured with 2 clusters on the cell, then
again with 8: the access reconciler's pass (`reconcile_cell_access`), the topic sync
(`sync_all_topics`, with its config-drift and partition-ceiling guards) and placement
(`placement_candidates`, run by every create). Each pass's queries are counted with Django's
CaptureQueriesContext, and the sync's admin requests through the platform client and every
tenant gateway are recorded by name (the real calls are made). The counts must be equal for
2 and for 8 clusters: no query or request per key or per cluster. Without timing.

The clusters are database rows on the real cell (no provisioning: the reconciler's first pass
puts their ACLs and quotas on the cell); one has a Connect worker key, one a manual binding,
each has one topic. What the test put on the cell is removed at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters.models import AccessKey, Cluster, ManualAclBinding
from clusters.services import topic_sync
from clusters.services.access import reconcile
from clusters.services.access.reconcile import reconcile_cell_access
from fleet import selectors
from fleet.kafka import tenant
from fleet.kafka.platform import platform_superuser
from tests.clusters.access_helpers import unique_slug
from tests.factories import ClusterFactory, TeamFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

pytestmark = pytest.mark.django_db(transaction=False)


class Recorder:
    """Any client or transport: each call recorded by name, then made."""

    def __init__(self, real: Any, calls: Counter[str]) -> None:
        self._real = real
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        def record(*args: Any, **kwargs: Any) -> Any:
            self._calls[name] += 1
            return attr(*args, **kwargs)

        return record


@contextmanager
def recorded(monkeypatch) -> Iterator[Counter[str]]:
    """Admin requests of the sync and the reconciler: the platform's client and every
    tenant gateway's transport."""
    calls: Counter[str] = Counter()
    with monkeypatch.context() as m:

        def recording_superuser(cell):
            return Recorder(platform_superuser(cell), calls)

        for module in (topic_sync, reconcile):
            m.setattr(module, "platform_superuser", recording_superuser)
        m.setattr(tenant, "MODULES_TRANSPORT", Recorder(tenant.MODULES_TRANSPORT, calls))
        yield calls


def count_queries(fn) -> tuple[Any, int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return result, len(ctx.captured_queries), [q["sql"][:160] for q in ctx.captured_queries]


def add_clusters(cell, admin_connection, n: int, made: list[Cluster]) -> None:
    team = TeamFactory(slug=unique_slug("qb"))
    new = []
    for i in range(n):
        cluster = ClusterFactory(team=team, cell=cell, name=f"c{len(made) + i}")
        key = AccessKey.objects.create(
            cluster=cluster,
            name="app",
            username=f"{cluster.wire_prefix}app",
            policy_template="produce_consume",
        )
        if not made and i == 0:
            # The first cluster has a Connect worker (its tenant keys get the reserved DENYs)
            # and a manual binding.
            AccessKey.objects.create(
                cluster=cluster,
                name="connect",
                username=f"{cluster.wire_prefix}connect",
                policy_template="admin",
                platform_managed=True,
            )
            ManualAclBinding.objects.create(
                key=key,
                resource_type="TOPIC",
                name="extra",
                pattern_type="LITERAL",
                operation="READ",
                permission="ALLOW",
            )
        new.append(cluster)
    errors = gateway.create_topics(admin_connection, [(f"{c.wire_prefix}t0", 1, {}) for c in new])
    assert not any(errors.values()), errors
    made.extend(new)

    def listed():
        names = set(gateway.list_topics(admin_connection))
        assert {f"{c.wire_prefix}t0" for c in made} <= names

    eventually(listed, timeout=60)


def _changes_nothing(cell) -> None:
    report = reconcile_cell_access(cell)
    assert report.errors == [], report.errors
    assert (report.created, report.deleted, report.quotas_changed) == (0, 0, 0), report


def measure(cell, monkeypatch) -> dict[str, Any]:
    """Each pass once to settle (imports, ACLs put on the cell), then once measured."""
    report = reconcile_cell_access(cell)
    assert report.errors == [], report.errors
    # A broker answers a describe from its copy of the cell's metadata, a moment behind the
    # controller's: the pass right after the writes can still miss some and write them again.
    # Settled means a pass that found nothing to change.
    eventually(lambda: _changes_nothing(cell), timeout=30, interval=0.5)
    topic_sync.sync_all_topics()
    with recorded(monkeypatch) as reconcile_calls:
        report, reconcile_queries, reconcile_sql = count_queries(
            lambda: reconcile_cell_access(cell)
        )
    assert report.errors == [], report.errors
    assert (report.created, report.deleted, report.quotas_changed) == (0, 0, 0), report
    with recorded(monkeypatch) as sync_calls:
        results, sync_queries, sync_sql = count_queries(topic_sync.sync_all_topics)
    assert not any(r.changed for r in results.values()), results
    _c, placement_queries, placement_sql = count_queries(
        lambda: selectors.placement_candidates(usage=None)
    )
    return {
        "keys": report.keys,
        "clusters": len(results),
        "reconcile_queries": reconcile_queries,
        "reconcile_sql": reconcile_sql,
        "reconcile_calls": reconcile_calls,
        "sync_queries": sync_queries,
        "sync_sql": sync_sql,
        "sync_calls": sync_calls,
        "placement_queries": placement_queries,
        "placement_sql": placement_sql,
    }


def test_periodic_passes_make_the_same_queries_and_requests_for_2_and_8_clusters(
    cell, admin_connection, monkeypatch
):
    made: list[Cluster] = []
    try:
        add_clusters(cell, admin_connection, 2, made)
        small = measure(cell, monkeypatch)
        assert (small["keys"], small["clusters"]) == (3, 2), small
        # The Connect worker's reserved topics are denied to the first cluster's tenant key.
        first_key = AccessKey.objects.get(cluster=made[0], name="app")
        assert any(
            b.permission == "DENY" and b.resource_name.endswith("connect-configs")
            for b in gateway.describe_acls(admin_connection, first_key.principal)
        )

        add_clusters(cell, admin_connection, 6, made)
        large = measure(cell, monkeypatch)
        assert (large["keys"], large["clusters"]) == (9, 8), large

        for what in ("reconcile", "sync", "placement"):
            assert large[f"{what}_queries"] == small[f"{what}_queries"], (
                what,
                small[f"{what}_sql"],
                large[f"{what}_sql"],
            )
        assert (
            large["reconcile_calls"]
            == small["reconcile_calls"]
            == Counter(describe_acls=1, describe_user_quotas=1)
        ), (small["reconcile_calls"], large["reconcile_calls"])
        # One listing and one bulk config read for the cell; nothing per cluster.
        assert (
            large["sync_calls"]
            == small["sync_calls"]
            == Counter(list_topics=1, describe_many_topic_configs=1)
        ), (small["sync_calls"], large["sync_calls"])
    finally:
        # Nothing of this test stays on the cell: keys of FAILED clusters desire nothing.
        Cluster.objects.filter(pk__in=[c.pk for c in made]).update(state=Cluster.State.FAILED)
        reconcile_cell_access(cell)
        for c in made:
            gateway.delete_topic(admin_connection, f"{c.wire_prefix}t0", missing_ok=True)


def test_the_config_check_reads_a_bounded_turn_and_covers_every_topic(settings):
    # At most SKIFF_DRIFT_TOPICS_PER_PASS topics' configs a pass; in turn, every topic is
    # checked within ceil(topics / per pass) passes, and a small cell has all of them each pass.
    settings.SKIFF_DRIFT_TOPICS_PER_PASS = 2
    cell_id = 10**9 + TeamFactory().pk  # a key no other test uses
    names = [f"t.c.topic-{n}" for n in range(5)]

    assert topic_sync._config_turn(cell_id, names[:2]) == names[:2]
    turns = [topic_sync._config_turn(cell_id, names) for _ in range(6)]

    assert all(len(turn) <= 2 for turn in turns)
    assert {name for turn in turns[:3] for name in turn} == set(names)
    assert turns[3:] == turns[:3]  # and round again
