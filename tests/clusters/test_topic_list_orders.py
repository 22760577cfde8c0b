"""The topic list's sorts, searches and pages from one stored snapshot (issue 20).

A request derives each sorted order once per stored snapshot and reads rates only for the rows
it shows, unless it sorts by rate; what it shows must be what a plain sort of the whole list
shows, for every ordering, both directions, with a search, and again after the next snapshot.
The snapshot is stored as the background refresh stores it (reading the cell into it is tested
against the real cell in test_list_cache_integration.py); no request reads the cell.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Topic
from clusters.services import list_cache
from clusters.services.topics import TopicRow, TopicSnapshot
from console.models import Role
from console.services.teams import api_token_create
from fleet.models import TopicMinuteUsage
from tests.factories import ClusterFactory, MembershipFactory

COUNT = 120


def _rows(messages_offset: int = 0) -> dict[str, TopicRow]:
    rows = {}
    for i in reversed(range(COUNT)):  # the cell's order is not the name order
        name = f"t{i:03d}"
        rows[name] = TopicRow(
            name=name,
            partitions=1 + i % 4,
            replication_factor=3,
            size_bytes=None if i % 10 == 0 else (i * 53) % 97,
            messages=(i * 31) % 11 + messages_offset,
            under_replicated=0,
        )
    return rows


def _store(cluster, rows: dict[str, TopicRow]) -> None:
    now = timezone.now()
    snapshot = TopicSnapshot(time.time(), rows, False, {}, time.time(), now, now)
    list_cache.snapshot_put("topics", cluster.pk, snapshot, started=time.time())


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"o{uuid.uuid4().hex[:8]}", role=Role.VIEWER)


@pytest.fixture
def cluster(member):
    cluster = ClusterFactory(team=member.team, name="orders")
    now = timezone.now()
    Topic.objects.bulk_create(
        Topic(
            cluster=cluster,
            name=f"t{i:03d}",
            partitions=1,
            cleanup_policy="compact" if i % 2 else "delete",
            created_at=now,
        )
        for i in range(COUNT)
    )
    minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    TopicMinuteUsage.objects.bulk_create(
        TopicMinuteUsage(
            cluster=cluster,
            topic=f"t{i:03d}",
            minute=minute,
            bytes_in=((i * 7) % 13) * 60,
            bytes_out=((i * 5) % 9) * 60,
        )
        for i in range(0, COUNT, 2)  # half the topics had traffic
    )
    _store(cluster, _rows())
    yield cluster
    list_cache.drop("topics", cluster.pk)


@pytest.fixture
def api(member):
    _, raw = api_token_create(user=member.user, team=member.team, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def _expected(rows: dict[str, TopicRow], ordering: str, search: str = "") -> list[str]:
    field = ordering.lstrip("-")
    rates = {
        f"t{i:03d}": (((i * 7) % 13) * 60 / 60.0, ((i * 5) % 9) * 60 / 60.0)
        for i in range(0, COUNT, 2)
    }
    keys = {
        "name": lambda r: r.name,
        "partitions": lambda r: (r.partitions, r.name),
        "size": lambda r: (r.size_bytes or 0, r.name),
        "messages": lambda r: (r.messages, r.name),
    }
    chosen = [r for r in rows.values() if search in r.name]
    if field in keys:
        chosen.sort(key=keys[field], reverse=ordering.startswith("-"))
    else:
        index = 0 if field == "bytes_in" else 1
        chosen.sort(key=lambda r: r.name)
        chosen.sort(
            key=lambda r: rates.get(r.name, (0.0, 0.0))[index], reverse=ordering.startswith("-")
        )
    return [r.name for r in chosen]


def _listed(api, cluster, **params) -> list[dict]:
    """Every page of the API's answer, in order."""
    results, page, pages = [], 1, 1
    while page <= pages:
        body = api.get(
            f"/api/v1/clusters/{cluster.pk}/topics/", {**params, "page": page, "page_size": 50}
        ).json()
        results += body["results"]
        page, pages = page + 1, body["pages"]
    assert len(results) == body["count"]
    return results


ORDERINGS = ["name", "partitions", "size", "messages", "bytes_in", "bytes_out"]


@pytest.mark.parametrize("ordering", ORDERINGS + [f"-{o}" for o in ORDERINGS])
def test_every_order_is_a_sort_of_the_whole_list(api, cluster, ordering):
    cold = dict(list_cache.cold_reads)
    listed = _listed(api, cluster, ordering=ordering)
    assert [t["name"] for t in listed] == _expected(_rows(), ordering)
    assert list_cache.cold_reads == cold
    by_name = {t["name"]: t for t in listed}
    assert by_name["t003"]["cleanup_policy"] == "compact"
    assert (
        by_name["t004"]["bytes_in_per_sec"] == 2.0 and by_name["t004"]["bytes_out_per_sec"] == 2.0
    )
    assert by_name["t003"]["bytes_in_per_sec"] is None  # no traffic recorded


def test_search_then_the_next_snapshot(api, cluster):
    listed = _listed(api, cluster, ordering="-messages", search="T1")
    assert [t["name"] for t in listed] == _expected(_rows(), "-messages", "t1")
    # The next snapshot: its own order, not the previous one's.
    changed = _rows(messages_offset=0)
    changed["t000"] = TopicRow(**{**vars(changed["t000"]), "messages": 10_000})
    _store(cluster, changed)
    first = api.get(f"/api/v1/clusters/{cluster.pk}/topics/", {"ordering": "-messages"}).json()
    assert first["results"][0]["name"] == "t000"
    assert first["cluster_partitions"] == sum(r.partitions for r in changed.values())


def test_a_page_reads_rates_of_its_own_rows_only(api, cluster):
    url = f"/api/v1/clusters/{cluster.pk}/topics/"
    api.get(url)  # warm: the first request derives the order
    with CaptureQueriesContext(connection) as queries:
        body = api.get(url, {"page": 2, "page_size": 10}).json()
    assert [t["name"] for t in body["results"]] == [f"t{i:03d}" for i in range(10, 20)]
    usage = [q["sql"] for q in queries if "topicminuteusage" in q["sql"] and "IN (" in q["sql"]]
    assert len(usage) == 1, usage  # the rates of the page's ten topics, by name


def test_the_page_links_each_row_and_keeps_the_sort_for_the_search(member, cluster):
    page = Client()
    page.force_login(member.user)
    url = reverse("clusters:topics", args=[cluster.pk])
    fragment = page.get(url, {"ordering": "-size"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'<a href="{reverse("clusters:topic_detail", args=[cluster.pk, "t000"])}">t000</a>' in (
        page.get(url).content.decode()
    )
    # The search form's sort follows a click on a heading (swapped in out of band).
    assert 'id="topic-ordering" value="-size" hx-swap-oob="true"' in fragment
