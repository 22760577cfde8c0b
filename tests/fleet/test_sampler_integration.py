"""The sampler on the real cell: leader bytes in per topic per minute match what was produced."""

import os
import uuid

import pytest

from clusters.services import topics
from clusters.services.clusters import ClusterSpec, cluster_create
from fleet.models import Broker, TopicMinuteUsage
from fleet.services.sampler import Sampler
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually, metrics_get
from tests.fleet.metrics_texts import HERE

MESSAGES = 300
VALUE_BYTES = 4096


@pytest.fixture
def tenant(cell, db, django_capture_on_commit_callbacks):
    member = MembershipFactory(team__slug=f"s{uuid.uuid4().hex[:8]}")
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team, user=member.user, spec=ClusterSpec(name="metered")
        )
    created.cluster.refresh_from_db()
    conn = gateway.KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=created.initial_key.username,
        password=created.secret,
        ca_path=cell.ca_path,
        timeout=20,
    )
    return created.cluster, conn


def test_per_minute_rows_add_up_to_the_bytes_produced(cell, tenant, admin_connection):
    cluster, client = tenant
    topic = f"{cluster.wire_prefix}events"
    gateway.create_topic(admin_connection, topic, partitions=3)
    sampler = Sampler(timeout=5.0)
    baseline = sampler.run_once()
    assert baseline.scraped == 3 and not baseline.unreachable

    payloads = [bytes([i % 251]) * VALUE_BYTES for i in range(MESSAGES)]
    produced = sum(len(p) for p in payloads)
    assert eventually(lambda: gateway.produce(client, topic, payloads), timeout=30) == MESSAGES

    def rows_complete():
        sampler.run_once()
        messages = sum(
            TopicMinuteUsage.objects.filter(cluster=cluster, topic="events").values_list(
                "messages_in", flat=True
            )
        )
        assert messages >= MESSAGES

    eventually(rows_complete, timeout=20, interval=1.0)
    rows = TopicMinuteUsage.objects.filter(cluster=cluster, topic="events")
    bytes_in = sum(r.bytes_in for r in rows)
    # Leader bytes only: replication (RF 3) would triple it; record framing adds a little.
    assert abs(bytes_in - produced) / produced <= 0.02, (bytes_in, produced)
    assert sum(r.messages_in for r in rows) == MESSAGES
    assert all(r.minute.second == 0 and r.minute.microsecond == 0 for r in rows)
    storage = rows.order_by("-minute").first().storage_bytes
    assert produced <= storage <= produced * 1.05  # one copy, not three

    # Reading the topic back is bytes out (consumer fetches, not replica fetches).
    got = gateway.consume(
        client, topic, group_id=f"{cluster.wire_prefix}reader", max_messages=MESSAGES
    )
    assert len(got) == MESSAGES

    def read_counted():
        sampler.run_once()
        out = sum(
            TopicMinuteUsage.objects.filter(cluster=cluster, topic="events").values_list(
                "bytes_out", flat=True
            )
        )
        assert out >= produced * 0.98

    eventually(read_counted, timeout=20, interval=1.0)
    assert all(b.state == Broker.State.UP for b in cell.brokers.all())

    if os.environ.get("SKIFF_RECORD_METRICS"):  # refresh the recorded text of the unit tests
        from fleet.services.sampler import metrics_credentials

        url = cell.brokers.order_by("node_id").first().metrics_url
        text = metrics_get(url, metrics_credentials([cell.pk]).get(cell.pk))
        (HERE / "broker_busy.prom").write_text(text)


def test_the_topic_page_links_to_its_live_throughput(tenant, client):
    """From the topic page to its live chart, even before the sampler has seen the topic."""
    cluster, _conn = tenant
    topics.topic_create(cluster=cluster, name="fresh", partitions=1)
    client.force_login(cluster.team.memberships.get().user)

    detail = client.get(f"/clusters/{cluster.pk}/topics/fresh/")
    assert detail.status_code == 200
    live_url = f"/clusters/{cluster.pk}/throughput/topics/fresh/"
    assert f'href="{live_url}"' in detail.content.decode()

    live = client.get(live_url)
    assert live.status_code == 200
    html = live.content.decode()
    assert f'ws-connect="/ws/clusters/{cluster.pk}/topics/fresh/throughput/"' in html
    assert f'href="/clusters/{cluster.pk}/topics/fresh/"' in html  # and back
