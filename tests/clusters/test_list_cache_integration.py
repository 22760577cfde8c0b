"""No cold pages (issue 20, goal 2): the topic and consumer-group lists are read in the
background, never in a request.

Against the session's real cell. A recording transport stands in for the gateway modules behind
every `ClusterGateway` made during the test (it records each call's name, then makes the real
call), so the test sees which Kafka requests a page view, an API call or the background refresh
issued. No timing is asserted: what makes the lists fast is that requests issue none of the
bulk reads.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from clusters.models import Topic
from clusters.services import consumer_groups as groups
from clusters.services import list_cache, topics
from clusters.services.clusters import ClusterSpec, cluster_create
from clusters.services.list_refresh import refresh_lists
from console.models import Role
from console.services.teams import api_token_create
from fleet.kafka import tenant as tenant_module
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

# The reads a list is made of: a cluster-wide metadata, offsets, sizes or groups request.
BULK_READS = {
    "list_topics",
    "list_partition_offsets",
    "describe_log_dirs",
    "list_consumer_groups",
    "describe_consumer_groups",
    "list_consumer_group_offsets",
}


@dataclass
class CallRecorder:
    """Records the name of every gateway call, then makes the real call."""

    calls: list[str] = field(default_factory=list)
    real: Any = None

    def __getattr__(self, call: str) -> Any:
        real = getattr(self.real, call)

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(call)
            return real(*args, **kwargs)

        return record

    def bulk(self) -> list[str]:
        return [c for c in self.calls if c in BULK_READS]


@pytest.fixture
def recorder(monkeypatch) -> CallRecorder:
    rec = CallRecorder(real=tenant_module.MODULES_TRANSPORT)
    monkeypatch.setattr(tenant_module, "MODULES_TRANSPORT", rec)
    return rec


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"t{uuid.uuid4().hex[:8]}", role=Role.DEVELOPER)


@pytest.fixture
def active(cell, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team,
            user=member.user,
            spec=ClusterSpec(name="lists", policy_template="admin"),
        )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    return created


def _due_now() -> float:
    """A moment at which every snapshot is old enough to be read again."""
    return time.time() + settings.SKIFF_LISTS_REFRESH


def _as_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">[^<]*?as of (\d\d:\d\d:\d\d) UTC', html)
    assert found, f"no 'as of' time in #{element_id}"
    return found.group(1)


def test_lists_are_read_in_the_background_never_in_a_request(
    active, member, admin_connection, recorder
):
    cluster = active.cluster
    # One partition: a group's lag counts the partitions it committed, and with two the
    # producer's sticky partitioner could put the late messages where the group never committed.
    topics.topic_create(cluster=cluster, name="orders", partitions=1)
    wire = f"{cluster.wire_prefix}orders"
    gateway.produce(admin_connection, wire, [f"m{i}".encode() for i in range(5)])
    consumed = gateway.consume(
        admin_connection, wire, group_id=f"{cluster.wire_prefix}billing", max_messages=5
    )
    assert len(consumed) == 5

    page = Client()
    page.force_login(member.user)
    _, raw = api_token_create(user=member.user, team=member.team, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    urls = {
        "topic page": reverse("clusters:topics", args=[cluster.pk]),
        "topic API": f"/api/v1/clusters/{cluster.pk}/topics/",
        "group page": reverse("clusters:groups", args=[cluster.pk]),
        "group API": f"/api/v1/clusters/{cluster.pk}/consumer-groups/",
    }

    # The first view of each list: nothing stored yet, it is read there (and counted).
    topics.invalidate_topic_cache()
    cold = dict(list_cache.cold_reads)
    assert page.get(urls["topic page"]).status_code == 200
    assert page.get(urls["group page"]).status_code == 200
    assert list_cache.cold_reads["topics"] == cold["topics"] + 1
    assert list_cache.cold_reads["groups"] == cold["groups"] + 1

    # From then on the background keeps both warm: the periodic task reads them when due…
    recorder.calls.clear()
    done = refresh_lists(now=_due_now())
    assert done.refreshed == {"topics": [cluster.pk], "groups": [cluster.pk]}, done
    assert {"list_topics", "list_partition_offsets", "list_consumer_groups"} <= set(recorder.calls)
    # …and not before they are due.
    assert refresh_lists().refreshed == {}

    # No request reads the cell in bulk: pages and API, with and without a search.
    for name, url in urls.items():
        for query in ("", "?search=ord", "?search=bill"):
            recorder.calls.clear()
            client = api if "API" in name else page
            response = client.get(url + query)
            assert response.status_code == 200, (name, response.content[:300])
            assert recorder.bulk() == [], f"{name}{query} read the cell: {recorder.bulk()}"
    assert list_cache.cold_reads == {
        "topics": cold["topics"] + 1,
        "groups": cold["groups"] + 1,
    }

    listing = api.get(urls["topic API"]).json()["results"]
    assert [(t["name"], t["messages"]) for t in listing] == [("orders", 5)]
    rows = api.get(urls["group API"]).json()["results"]
    assert [(g["group"], g["lag"]) for g in rows] == [("billing", 0)]

    # The pages say how fresh their numbers are: the snapshot's read time.
    stored = list_cache.snapshot_get("topics", cluster.pk)
    assert stored is not None
    html = page.get(urls["topic page"]).content.decode()
    assert _as_of(html, "topics-as-of") == stored.value.read_at.strftime("%H:%M:%S")
    stored_groups = list_cache.snapshot_get("groups", cluster.pk)
    assert stored_groups is not None
    html = page.get(urls["group page"]).content.decode()
    assert _as_of(html, "groups-as-of") == stored_groups.value.read_at.strftime("%H:%M:%S")

    # New messages show after the next background read, still without a read in the request.
    gateway.produce(admin_connection, wire, [b"late-1", b"late-2"])

    # Both lists in one bounded wait: each refresh reads the two lists at different moments,
    # and a partition's high watermark can reach a read a moment after the produce's ack.
    def seven():
        refresh_lists(now=_due_now())
        recorder.calls.clear()
        names = {t["name"]: t["messages"] for t in api.get(urls["topic API"]).json()["results"]}
        rows = api.get(urls["group API"]).json()["results"]
        assert recorder.bulk() == []
        assert names == {"orders": 7}
        assert [(g["group"], g["lag"]) for g in rows] == [("billing", 2)]

    eventually(seven, timeout=30)


def test_console_changes_show_at_once_and_are_read_again(active, member, recorder):
    """A topic created or deleted in the console is in the next list (the stored snapshot is
    patched), and the snapshot is marked stale, so the next tick reads it again."""
    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="first", partitions=1)
    api = APIClient()
    _, raw = api_token_create(user=member.user, team=member.team, name="t")
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    url = f"/api/v1/clusters/{cluster.pk}/topics/"
    assert [t["name"] for t in api.get(url).json()["results"]] == ["first"]
    refresh_lists(now=_due_now())
    assert refresh_lists().refreshed == {}  # fresh now

    created = api.post(url, {"name": "second", "partitions": 3}, format="json")
    assert created.status_code == 201, created.content
    recorder.calls.clear()
    listing = {t["name"]: t["partitions"] for t in api.get(url).json()["results"]}
    assert recorder.bulk() == []
    assert listing == {"first": 1, "second": 3}
    assert refresh_lists().refreshed == {"topics": [cluster.pk]}  # stale: read again at once

    topics.topic_delete(cluster=cluster, name="first")
    recorder.calls.clear()
    assert [t["name"] for t in api.get(url).json()["results"]] == ["second"]
    assert recorder.bulk() == []
    assert refresh_lists().refreshed == {"topics": [cluster.pk]}
    stored = list_cache.snapshot_get("topics", cluster.pk)
    assert stored is not None and not stored.stale
    assert sorted(stored.value.rows) == ["second"]
    assert groups.group_list(cluster=cluster) == []


def test_the_refresh_is_scheduled_in_both_topologies(active, member, recorder):
    """Celery beat and the embedded scheduler run the refresh task, often enough to keep a
    snapshot within SKIFF_LISTS_REFRESH; run as the scheduler runs it, it re-reads a stale
    list and issues the bulk reads itself."""
    from console.periodic import PERIODIC_TASKS, EmbeddedScheduler, beat_schedule

    name = "clusters.tasks.refresh_lists_task"
    scheduled = [t for t in PERIODIC_TASKS if t.name == name]
    assert scheduled and scheduled[0].every_seconds <= settings.SKIFF_LISTS_REFRESH
    assert beat_schedule()[name]["task"] == name

    cluster = active.cluster
    topics.cluster_topic_snapshot(cluster)  # viewed (and the first, cold read)
    before = list_cache.snapshot_get("topics", cluster.pk)
    assert before is not None and not before.stale
    topics.topics_changed(cluster)
    assert list_cache.snapshot_get("topics", cluster.pk).stale
    recorder.calls.clear()
    EmbeddedScheduler(tasks=scheduled).tasks_by_name()[name].apply()
    after = list_cache.snapshot_get("topics", cluster.pk)
    assert after is not None and not after.stale and after.started > before.started
    assert "list_topics" in recorder.calls


class ConsoleChangeDuringRead(CallRecorder):
    """The real transport, where the console makes `change` once a topic read has its answer
    and before the refresh stores it: the read began before the change, as the background
    refresh's read does when a tenant creates or deletes a topic meanwhile (or a broker that
    has not applied the change yet answers it)."""

    change: Any = None

    def __getattr__(self, call: str) -> Any:
        real = super().__getattr__(call)
        if call != "list_topics":
            return real

        def read_then_change(*args: Any, **kwargs: Any) -> Any:
            answer = real(*args, **kwargs)
            change, self.change = self.change, None
            if change is not None:
                change()
            return answer

        return read_then_change


def test_a_read_older_than_a_console_change_does_not_undo_it(active, member, monkeypatch):
    """The console's creates and deletes of the last minute are applied to every read stored:
    a topic deleted in the console does not come back in the list (nor a created one vanish)
    because the background read began before the change."""
    cluster = active.cluster
    topics.topic_create(cluster=cluster, name="doomed", partitions=1)
    doomed = eventually(lambda: topics.cluster_gateway(cluster).list_topics()["doomed"], timeout=30)
    spy = ConsoleChangeDuringRead(real=tenant_module.MODULES_TRANSPORT)
    monkeypatch.setattr(tenant_module, "MODULES_TRANSPORT", spy)
    api = APIClient()
    _, raw = api_token_create(user=member.user, team=member.team, name="t")
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    url = f"/api/v1/clusters/{cluster.pk}/topics/"

    def names() -> list[str]:
        return sorted(t["name"] for t in api.get(url).json()["results"])

    def delete_and_create() -> None:
        topics.topic_delete(cluster=cluster, name="doomed")
        topics.topic_create(cluster=cluster, name="newborn", partitions=1)

    spy.change = delete_and_create
    topics.refresh_topic_snapshot(cluster=cluster)
    assert spy.change is None, "the refresh made no list_topics call"
    assert names() == ["newborn"]
    stored = list_cache.snapshot_get("topics", cluster.pk)
    assert stored is not None and sorted(stored.value.rows) == ["newborn"]

    # The topic sync, given a read that still shows the deleted topic (what a broker that
    # has not applied the delete answers), does not import it again.
    stale_read = {**topics.cluster_gateway(cluster).list_topics(), "doomed": doomed}
    result = topics.sync_topics(cluster=cluster, metadata=stale_read)
    assert "doomed" not in result.created
    assert not Topic.objects.filter(cluster=cluster, name="doomed").exists()
