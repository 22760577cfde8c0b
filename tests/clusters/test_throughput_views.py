"""Throughput page and API: the contract document, history windows from rows, team scoping."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import Role
from console.services.teams import api_token_create
from fleet.models import ThroughputSnapshot, TopicMinuteUsage
from tests.factories import ClusterFactory, MembershipFactory


@pytest.fixture
def viewer(db):
    return MembershipFactory(team__slug=f"v{uuid.uuid4().hex[:8]}", role=Role.VIEWER)


@pytest.fixture
def cluster(viewer):
    return ClusterFactory(team=viewer.team, name="orders")


def api_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


DOC = {
    "ts": "2026-03-01T12:00:05Z",
    "cluster": {
        "bytes_in_per_sec": 2048.0,
        "bytes_out_per_sec": 0.0,
        "messages_in_per_sec": 2.0,
        "storage_bytes": 9,
    },
    "topics": {
        "payments": {
            "bytes_in_per_sec": 2048.0,
            "bytes_out_per_sec": 0.0,
            "messages_in_per_sec": 2.0,
            "storage_bytes": 9,
        }
    },
    "partial": False,
}


def test_current_throughput_is_the_last_pushed_document(viewer, cluster):
    api = api_for(viewer)
    empty = api.get(f"/api/v1/clusters/{cluster.pk}/throughput/")
    assert empty.status_code == 200
    assert empty.json()["cluster"]["bytes_in_per_sec"] == 0 and empty.json()["topics"] == {}

    ThroughputSnapshot.objects.create(
        cell=cluster.cell, clusters={str(cluster.pk): DOC}, taken_at=timezone.now()
    )
    assert api.get(f"/api/v1/clusters/{cluster.pk}/throughput/").json() == DOC


def test_history_windows_average_the_minute_rows(viewer, cluster):
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=2)
    for topic, bytes_in in (("payments", 6000), ("refunds", 600)):
        TopicMinuteUsage.objects.create(
            cluster=cluster, topic=topic, minute=minute, bytes_in=bytes_in, messages_in=60
        )
    old = minute - dt.timedelta(hours=3)
    TopicMinuteUsage.objects.create(cluster=cluster, topic="payments", minute=old, bytes_in=3600)
    api = api_for(viewer)

    hour = api.get(f"/api/v1/clusters/{cluster.pk}/throughput/history/?window=1h").json()
    assert hour["bucket_seconds"] == 60 and len(hour["points"]) == 60
    point = next(p for p in hour["points"] if p["ts"] == minute.isoformat().replace("+00:00", "Z"))
    assert point["bytes_in_per_sec"] == pytest.approx(6600 / 60)
    assert point["messages_in_per_sec"] == pytest.approx(2.0)
    assert sum(p["bytes_in_per_sec"] for p in hour["points"]) == pytest.approx(6600 / 60)
    assert hour["topics"]["payments"] == {"bytes_in": 6000, "bytes_out": 0, "messages_in": 60}

    day = api.get(f"/api/v1/clusters/{cluster.pk}/throughput/history/?window=24h").json()
    assert day["bucket_seconds"] == 300 and len(day["points"]) == 288
    assert sum(p["bytes_in_per_sec"] * 300 for p in day["points"]) == pytest.approx(
        6600 + 3600, rel=1e-3
    )

    week = api.get(
        f"/api/v1/clusters/{cluster.pk}/throughput/history/?window=7d&topic=payments"
    ).json()
    assert week["bucket_seconds"] == 3600 and len(week["points"]) == 168
    assert sum(p["bytes_in_per_sec"] * 3600 for p in week["points"]) == pytest.approx(
        9600, rel=1e-3
    )
    assert set(week["topics"]) == {"payments"}

    bad = api.get(f"/api/v1/clusters/{cluster.pk}/throughput/history/?window=1y")
    assert bad.status_code == 400 and "1h, 24h, 7d" in bad.json()["window"]


def test_another_teams_cluster_is_a_404(viewer, cluster):
    stranger = MembershipFactory(team__slug=f"s{uuid.uuid4().hex[:8]}")
    api = api_for(stranger)
    assert api.get(f"/api/v1/clusters/{cluster.pk}/throughput/").status_code == 404
    assert api.get(f"/api/v1/clusters/{cluster.pk}/throughput/history/").status_code == 404


def test_the_page_connects_to_the_clusters_socket(client, viewer, cluster):
    TopicMinuteUsage.objects.create(
        cluster=cluster,
        topic="payments",
        minute=timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=1),
        bytes_in=60,
    )
    client.force_login(viewer.user)
    page = client.get(f"/clusters/{cluster.pk}/throughput/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'ws-connect="/ws/clusters/{cluster.pk}/throughput/"' in html
    assert 'aria-current="page" href="/clusters/' in html  # the Throughput tab is active
    assert "throughput-seed" in html and "uPlot.iife.min.js" in html
    assert "<script>" not in html and "style=" not in html  # strict CSP: no inline code

    topic = client.get(f"/clusters/{cluster.pk}/throughput/topics/payments/")
    assert topic.status_code == 200
    assert f'ws-connect="/ws/clusters/{cluster.pk}/topics/payments/throughput/"' in (
        topic.content.decode()
    )
    assert client.get(f"/clusters/{cluster.pk}/throughput/topics/nope/").status_code == 404

    stranger = MembershipFactory(team__slug=f"s{uuid.uuid4().hex[:8]}")
    client.force_login(stranger.user)
    assert client.get(f"/clusters/{cluster.pk}/throughput/").status_code == 404


def test_endpoints_are_in_the_openapi_schema(client, viewer):
    client.force_login(viewer.user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/clusters/{id}/throughput/" in schema["paths"]
    assert "/api/v1/clusters/{id}/throughput/history/" in schema["paths"]
