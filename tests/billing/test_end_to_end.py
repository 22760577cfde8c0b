"""End to end on the real cell: produce → sampler → roll-up → the month's draft invoice."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.periods import HOUR, hour_floor, hours_between, month_of
from billing.services.invoices import recompute_draft
from billing.services.rollup import rollup_hours
from clusters.models import ClusterEvent
from clusters.services import topics
from clusters.services.clusters import ClusterSpec, cluster_create
from fleet.models import TopicMinuteUsage
from fleet.services.sampler import Sampler
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

MESSAGES = 2000
VALUE_BYTES = 8192
GIB = Decimal(2**30)


@pytest.fixture
def tenant(cell, db, django_capture_on_commit_callbacks):
    member = MembershipFactory(team__slug=f"b{uuid.uuid4().hex[:8]}")
    with django_capture_on_commit_callbacks(execute=True):
        created = cluster_create(
            team=member.team, user=member.user, spec=ClusterSpec(name="billed")
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


def data_in_of(invoice) -> Decimal:
    return sum(line.quantity for line in invoice.lines.filter(meter="data_in"))


def test_the_draft_invoice_bills_the_bytes_produced_within_2_percent(tenant):
    cluster, client = tenant
    assert cluster.state == cluster.State.ACTIVE
    topics.topic_create(cluster=cluster, name="orders", partitions=3)
    sampler = Sampler(timeout=5.0)
    sampler.run_once()  # the first pass only sets the counters' baseline

    payloads = [bytes([i % 251]) * VALUE_BYTES for i in range(MESSAGES)]
    produced = sum(len(p) for p in payloads)
    assert (
        eventually(lambda: gateway.produce(client, f"{cluster.wire_prefix}orders", payloads))
        == MESSAGES
    )

    def all_counted():
        sampler.run_once()
        counted = TopicMinuteUsage.objects.filter(cluster=cluster, topic="orders")
        assert sum(counted.values_list("messages_in", flat=True)) >= MESSAGES

    eventually(all_counted, timeout=30, interval=1.0)
    expected = Decimal(produced) / GIB

    # Month to date right now: the open hour comes straight from the sampler's rows.
    now = timezone.now()
    period = month_of(now)
    draft = recompute_draft(cluster.team, period, as_of=now)
    assert abs(data_in_of(draft) - expected) / expected <= Decimal("0.02"), (draft, expected)
    assert draft.lines.filter(meter="cluster_hours").get().quantity > 0
    assert draft.lines.filter(meter="partition_hours").get().quantity > 0

    # The hourly roll-up, run once the hours are over (as the task would an hour later).
    activated = cluster.events.get(kind=ClusterEvent.Kind.ACTIVATED).occurred_at
    later = hour_floor(now) + HOUR + dt.timedelta(minutes=5)
    rollup_hours(hours_between(activated, hour_floor(now) + HOUR), now=later)
    rolled = cluster.usage_records.filter(meter="data_in")
    assert abs(sum(r.quantity for r in rolled) - expected) / expected <= Decimal("0.02")
    if month_of(later) == period:
        draft = recompute_draft(cluster.team, period, as_of=later)
        assert abs(data_in_of(draft) - expected) / expected <= Decimal("0.02")
        assert draft.subtotal == sum(line.amount for line in draft.lines.all())
