"""The usage-row contract (fleet/selectors.py): what billing may read of the sampler's rows."""

import datetime as dt

import pytest

from fleet.selectors import (
    MinuteUsageRow,
    TopicDayUsage,
    minute_usage_latest,
    minute_usage_rows,
    topic_day_usage,
)
from tests.billing.sources import at, minute_row
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def test_rows_of_a_span_come_oldest_first_and_traffic_only_leaves_out_pure_gauges():
    a, b = ClusterFactory(), ClusterFactory()
    minute_row(a, "t2", "2026-11-01 10:01", bytes_in=5, storage=100)
    minute_row(a, "t1", "2026-11-01 10:01", storage=300)
    minute_row(a, "t1", "2026-11-01 10:00", bytes_out=7, storage=200)
    minute_row(a, "t1", "2026-11-01 11:00", bytes_in=1)  # outside the span
    minute_row(b, "t1", "2026-11-01 10:00", bytes_in=9)

    rows = list(minute_usage_rows(start=at("2026-11-01 10:00"), end=at("2026-11-01 11:00")))
    assert [(r.cluster_id, r.topic, r.minute) for r in rows[2:]] == [
        (a.pk, "t1", at("2026-11-01 10:01")),
        (a.pk, "t2", at("2026-11-01 10:01")),
    ]
    assert {r.cluster_id for r in rows[:2]} == {a.pk, b.pk}  # one minute, two clusters
    assert MinuteUsageRow(a.pk, "t1", at("2026-11-01 10:00"), 0, 7, 200) in rows

    traffic = minute_usage_rows(
        start=at("2026-11-01 10:00"),
        end=at("2026-11-01 11:00"),
        cluster_ids=[a.pk],
        traffic_only=True,
    )
    assert [(r.topic, r.bytes_in, r.bytes_out) for r in traffic] == [("t1", 0, 7), ("t2", 5, 0)]


def test_the_latest_row_of_each_topic_in_a_window_is_the_gauge_to_carry():
    cluster = ClusterFactory()
    minute_row(cluster, "old", "2026-10-01 00:00", storage=1)  # before the window
    minute_row(cluster, "kept", "2026-11-01 08:00", storage=2)
    minute_row(cluster, "kept", "2026-11-01 09:59", storage=3)
    minute_row(cluster, "kept", "2026-11-01 10:00", storage=4)  # at `before`: not carried
    latest = minute_usage_latest(
        cluster_ids=[cluster.pk],
        before=at("2026-11-01 10:00"),
        since=at("2026-11-01 10:00") - dt.timedelta(days=7),
    )
    assert [(r.topic, r.minute, r.storage_bytes) for r in latest] == [
        ("kept", at("2026-11-01 09:59"), 3)
    ]


def test_day_totals_sum_deltas_and_gauges_per_topic_and_utc_day():
    cluster = ClusterFactory()
    minute_row(cluster, "t", "2026-11-01 23:59", bytes_in=1, bytes_out=2, storage=10)
    minute_row(cluster, "t", "2026-11-01 12:00", bytes_in=3, storage=20)
    minute_row(cluster, "t", "2026-11-02 00:00", bytes_out=4, storage=30)
    minute_row(ClusterFactory(), "t", "2026-11-01 12:00", bytes_in=99)
    assert topic_day_usage(
        cluster_id=cluster.pk, start=at("2026-11-01 00:00"), end=at("2026-11-03 00:00")
    ) == [
        TopicDayUsage("t", at("2026-11-01 00:00"), 4, 2, 30),
        TopicDayUsage("t", at("2026-11-02 00:00"), 0, 4, 30),
    ]
