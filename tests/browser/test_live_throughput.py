"""Live throughput in Chromium: a real client produces, the cluster page's chart follows it,
and a topic page's chart follows that topic alone."""

import statistics
import subprocess
import sys
import textwrap
import time
import uuid

from django.core.management import call_command
from playwright.sync_api import expect

from clusters.models import Cluster
from clusters.services import topics
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Team, User
from fleet.services.cells import cell_record_local
from fleet.services.sampler import SamplerThread
from tests.fleet.kafka import gateway

PASSWORD = "s3cure-Passw0rd!"
RATE = 25  # messages per second
VALUE_BYTES = 4096
SECONDS = 20
TRUE_RATE = RATE * VALUE_BYTES  # bytes per second, payload

PRODUCER = textwrap.dedent(
    """\
    import sys, time
    from confluent_kafka import Producer

    bootstrap, username, password, ca, topic, rate, size, seconds = sys.argv[1:9]
    rate, size, seconds = int(rate), int(size), float(seconds)
    producer = Producer({
        "bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": username,
        "sasl.password": password, "ssl.ca.location": ca, "linger.ms": 5,
    })
    # Connect and authenticate first, so the timed loop is not a backlog flushed in a burst.
    producer.list_topics(topic, timeout=30)
    first = []
    def delivered(err, msg):
        if err is None and not first:
            first.append(time.time())
            print("first", first[0], flush=True)
    value = b"x" * size
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        due = start + sent / rate
        while time.monotonic() < due:  # poll() returns early when it serves a callback
            producer.poll(max(0.0, due - time.monotonic()))
        producer.produce(topic, value=value, on_delivery=delivered)
        producer.poll(0)
        sent += 1
    producer.flush(30)
    print("sent", sent, time.monotonic() - start, flush=True)
    """
)

LAST_POINTS = """
(el) => {
  const c = el.__skiffChart;
  if (!c) return [];
  return c.data[0].map((t, i) => [t, c.data[1][i]]);
}
"""


def _sign_in(page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _start_producer(tmp_path, cell, created, topic: str, seconds: float) -> subprocess.Popen:
    """PRODUCER at RATE messages of VALUE_BYTES on the cluster's first key, for `seconds`."""
    script = tmp_path / "producer.py"
    script.write_text(PRODUCER)
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            cell.bootstrap_servers,
            created.initial_key.username,
            created.secret,
            cell.ca_path,
            topic,
            str(RATE),
            str(VALUE_BYTES),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_chart_follows_a_real_producer(page, live_app, kafka_cell, admin_connection, tmp_path):
    cell = cell_record_local(kafka_cell)
    slug = f"l{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    created = cluster_create(
        team=team, user=User.objects.get(email=email), spec=ClusterSpec(name="live")
    )
    created.cluster.refresh_from_db()
    assert created.cluster.state == "ACTIVE", created.cluster.state_reason
    topic = f"{created.cluster.wire_prefix}clicks"
    gateway.create_topic(admin_connection, topic, partitions=3)

    sampler = SamplerThread(interval=5)
    sampler.start()
    producer = None
    try:
        _sign_in(page, email)
        page.goto(f"/clusters/{created.cluster.pk}/")
        page.get_by_role("link", name="Throughput").click()
        expect(page.get_by_role("heading", name="Throughput")).to_be_visible()
        indicator = page.get_by_role("status").filter(has_text="Live")
        expect(indicator).to_be_visible(timeout=20_000)
        opened = time.time()

        producer = _start_producer(tmp_path, cell, created, topic, SECONDS)
        first_line = producer.stdout.readline()
        assert first_line.startswith("first"), producer.stderr.read()
        first_message = float(first_line.split()[1])

        chart = page.locator('[data-skiff-chart="live-bytes"]')
        deadline = first_message + 10
        nonzero_at = None
        while time.time() < deadline + 1:
            points = [p for p in chart.evaluate(LAST_POINTS) if p[0] >= opened]
            if any(v and v > 0 for _t, v in points):
                nonzero_at = time.time()
                break
            page.wait_for_timeout(200)
        assert nonzero_at is not None, "no non-zero rate on the chart"
        assert nonzero_at - first_message <= 10, nonzero_at - first_message

        # Steady state: points whose whole interval had the producer running. Each point is
        # one scrape interval's average; their mean is what the chart shows for the run.
        page.wait_for_timeout((SECONDS - 3) * 1000)
        points = [p for p in chart.evaluate(LAST_POINTS) if p[0] >= first_message]
        steady = [v for t, v in points if first_message + 5.5 <= t <= first_message + SECONDS]
        assert len(steady) >= 2, points
        shown = statistics.mean(steady)
        # Human units on the page, the topic in the table.
        expect(page.get_by_label("Bytes in per second")).to_contain_text("KiB/s")
        row = page.get_by_role("row").filter(has_text="clicks")
        expect(row).to_contain_text("KiB/s")
        out, err = producer.communicate(timeout=60)
        assert producer.returncode == 0, err
        _, sent, elapsed = out.split()[-3:]
        true_rate = int(sent) * VALUE_BYTES / float(elapsed)  # what the client really sent
        assert abs(true_rate - TRUE_RATE) / TRUE_RATE <= 0.05, true_rate
        assert abs(shown - true_rate) / true_rate <= 0.15, (shown, true_rate, points)

        # History from the stored per-minute rows: the last hour shows the traffic too (after
        # one more pass, which accounts for the producer's last seconds).
        page.wait_for_timeout(6000)
        page.get_by_role("button", name="1 hour").click()
        expect(page.get_by_text("over the last hour")).to_be_visible()
        history = page.locator('[data-skiff-chart="history-bytes"]')
        stored = sum(v or 0 for _t, v in history.evaluate(LAST_POINTS)) * 60
        assert stored >= SECONDS * TRUE_RATE * 0.9, stored
        page.get_by_role("button", name="Live (15 min)").click()
        expect(chart).to_be_visible()
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
            producer.wait()
        sampler.stop()


def test_a_topic_page_chart_follows_its_own_topic(page, live_app, kafka_cell, tmp_path):
    """The topic page's socket sends that topic's share of each push: a busy topic's chart
    rises, a quiet neighbour's stays at zero while the producer runs."""
    cell = cell_record_local(kafka_cell)
    slug = f"t{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.com"
    call_command("create_team_admin", "--email", email, "--password", PASSWORD, "--team", slug)
    created = cluster_create(
        team=Team.objects.get(slug=slug),
        user=User.objects.get(email=email),
        spec=ClusterSpec(name="shares"),
    )
    cluster = Cluster.objects.get(pk=created.cluster.pk)
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason
    for name in ("busy", "quiet"):
        topics.topic_create(cluster=cluster, name=name, partitions=1, configs={})

    sampler = SamplerThread(interval=1)
    sampler.start()
    producer = None
    try:
        _sign_in(page, email)
        producer = _start_producer(tmp_path, cell, created, f"{cluster.wire_prefix}busy", 30)
        assert producer.stdout.readline().startswith("first"), producer.stderr.read()

        chart = page.locator('[data-skiff-chart="live-bytes"]')
        for name in ("busy", "quiet"):
            page.goto(f"/clusters/{cluster.pk}/topics/{name}/")
            page.get_by_role("link", name="Live throughput").click()
            expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=20_000)
            opened = time.time()
            deadline = opened + 15
            points: list = []
            while time.time() < deadline:  # pushed points only: the page's seed is older
                points = [p for p in chart.evaluate(LAST_POINTS) if p[0] >= opened]
                if name == "busy" and any(v and v > 0 for _t, v in points):
                    break
                if name == "quiet" and len(points) >= 3:
                    break
                page.wait_for_timeout(200)
            if name == "busy":
                assert any(v and v > 0 for _t, v in points), f"no rate on busy's chart: {points}"
            else:
                assert len(points) >= 3, f"quiet's chart got no pushes: {points}"
                assert all(not v for _t, v in points), f"quiet's chart shows busy's: {points}"
        assert producer.poll() is None, "the producer stopped before both pages were read"
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
            producer.wait()
        sampler.stop()
