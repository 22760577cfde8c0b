"""The consumer-group list in pages (issue 20): searched and sorted over every group of the
cluster, then paged, on the page (50 a page) and in the API (limit/offset), and dated.

The list is served from its stored snapshot (clusters/services/list_cache.py), which the
background refresh writes after reading the cell; here the test stores one of 130 groups the
same way, so no request can reach Kafka (its cell's address answers nothing) and none tries:
the cold-read counter stays put. Reading the cell into the snapshot is tested against the real
cell in test_list_cache_integration.py.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from clusters.services import list_cache
from clusters.services.consumer_groups import GroupRow, GroupSnapshot
from console.models import Role
from console.services.teams import api_token_create
from tests.factories import ClusterFactory, MembershipFactory

READ_AT = datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)
STATES = ("STABLE", "EMPTY", "PREPARING_REBALANCE")


def _row(i: int) -> GroupRow:
    return GroupRow(
        group=f"g{i:03d}",
        state=STATES[i % 3],
        members=i % 4,
        topics=[f"t{i % 7}"],
        lag=(i * 37) % 101,
    )


ROWS = [_row(i) for i in range(130)]


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"g{uuid.uuid4().hex[:8]}", role=Role.VIEWER)


@pytest.fixture
def cluster(member):
    cluster = ClusterFactory(team=member.team, name="groups")
    list_cache.snapshot_put(
        "groups", cluster.pk, GroupSnapshot(tuple(ROWS), READ_AT), started=time.time()
    )
    yield cluster
    list_cache.drop("groups", cluster.pk)


@pytest.fixture
def page(member):
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture
def api(member):
    _, raw = api_token_create(user=member.user, team=member.team, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def _shown(html: str) -> list[str]:
    """Group ids of the table's rows, in order."""
    return re.findall(r'<tr><td><a href="[^"]+">([^<]+)</a>', html)


def _expected(ordering: str, search: str = "") -> list[str]:
    field = ordering.lstrip("-")
    rows = [r for r in ROWS if search in r.group]
    rows.sort(key=lambda r: r.group)
    rows.sort(key=lambda r: getattr(r, field), reverse=ordering.startswith("-"))
    return [r.group for r in rows]


def test_the_page_shows_fifty_groups_and_pages_through_all(cluster, page):
    cold = dict(list_cache.cold_reads)
    url = reverse("clusters:groups", args=[cluster.pk])
    first = page.get(url)
    assert first.status_code == 200
    html = first.content.decode()
    assert _shown(html) == [f"g{i:03d}" for i in range(50)]
    assert "Page 1 of 3" in html and "130 groups" in html
    assert re.search(r'id="groups-as-of">states and lag as of 12:34:56 UTC<', html)
    last = page.get(url, {"page": 3}).content.decode()
    assert _shown(last) == [f"g{i:03d}" for i in range(100, 130)]
    assert "Page 3 of 3" in last and ">Next<" not in last and ">Previous<" in last
    # Past the end: the last page, not an empty one.
    assert _shown(page.get(url, {"page": 99}).content.decode()) == _shown(last)
    assert list_cache.cold_reads == cold  # served from the snapshot, never from the cell


@pytest.mark.parametrize("ordering", ["-lag", "lag", "members", "-members", "state", "-group"])
def test_sorting_is_over_the_whole_list_then_paged(cluster, page, ordering):
    url = reverse("clusters:groups", args=[cluster.pk])
    shown = []
    for number in (1, 2, 3):
        html = page.get(url, {"ordering": ordering, "page": number}).content.decode()
        shown += _shown(html)
    assert shown == _expected(ordering)  # ties stay in id order
    assert ("▼" if ordering.startswith("-") else "▲") in html


def test_search_is_over_the_whole_list_and_keeps_the_sort(cluster, page):
    url = reverse("clusters:groups", args=[cluster.pk])
    html = page.get(url, {"search": "G12", "ordering": "-lag"}).content.decode()
    assert _shown(html) == _expected("-lag", "g12")  # g120 to g129: on page 3 unsearched
    assert "10 groups matching, of 130" in html and "Page 1 of" not in html
    none = page.get(url, {"search": "nothing"}).content.decode()
    assert _shown(none) == [] and "No consumer group matches" in none
    assert "states and lag as of 12:34:56 UTC" in none


def test_htmx_gets_the_table_alone_and_a_bad_ordering_says_what_sorts(cluster, page):
    url = reverse("clusters:groups", args=[cluster.pk])
    fragment = page.get(url, {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and _shown(fragment)[0] == "g050"
    assert 'hx-target="#group-table"' in fragment
    # The search form's sort follows a click on a heading (swapped in out of band).
    sorted_fragment = page.get(url, {"ordering": "-lag"}, HTTP_HX_REQUEST="true").content.decode()
    assert '<input type="hidden" name="ordering" id="group-ordering" value="-lag" hx-swap-oob' in (
        sorted_fragment
    )
    full = page.get(url, {"ordering": "-lag"}).content.decode()
    assert 'id="group-ordering" value="-lag">' in full and "hx-swap-oob" not in full
    bad = page.get(url, {"ordering": "size"})
    assert bad.status_code == 400 and "Sort by one of: group, state, members, lag" in (
        bad.content.decode()
    )


def test_the_api_sorts_the_whole_list_before_its_limit_and_offset(cluster, api):
    url = f"/api/v1/clusters/{cluster.pk}/consumer-groups/"
    body = api.get(url, {"ordering": "-lag", "limit": 20, "offset": 40}).json()
    assert body["count"] == 130
    assert [g["group"] for g in body["results"]] == _expected("-lag")[40:60]
    searched = api.get(url, {"search": "g12", "ordering": "members"}).json()
    assert [g["group"] for g in searched["results"]] == _expected("members", "g12")
    default = api.get(url).json()
    assert [g["group"] for g in default["results"]] == [f"g{i:03d}" for i in range(50)]
    bad = api.get(url, {"ordering": "size"})
    assert bad.status_code == 400 and "ordering" in bad.json(), bad.json()
