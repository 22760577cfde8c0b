"""A person creates a topic, produces a message from the page and sees it, escaped, in the list."""

import uuid

from django.core.management import call_command
from playwright.sync_api import expect

from clusters.models import Cluster
from clusters.services.clusters import ClusterSpec, cluster_create
from console.models import Team, User
from fleet.services.cells import cell_record_local
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import settled

EMAIL = "ada@example.com"
PASSWORD = "s3cure-Passw0rd!"


def test_create_topic_produce_and_browse(page, live_app, kafka_cell, admin_connection):
    cell_record_local(kafka_cell)
    slug = f"b{uuid.uuid4().hex[:8]}"
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", slug)
    created = cluster_create(
        team=Team.objects.get(slug=slug),
        user=User.objects.get(email=EMAIL),
        spec=ClusterSpec(name="web"),
    )
    cluster = Cluster.objects.get(pk=created.cluster.pk)
    assert cluster.state == Cluster.State.ACTIVE, cluster.state_reason

    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/clusters/{cluster.pk}/")
    page.get_by_role("link", name="Topics", exact=True).click()
    expect(page.get_by_text("No topics yet")).to_be_visible()
    page.get_by_role("link", name="Create topic").first.click()

    expect(page.get_by_label("Partitions")).to_have_value("6")
    page.get_by_label("Topic name").fill("bad name")
    page.get_by_role("button", name="Create topic").click()
    expect(page.get_by_role("alert").filter(has_text="letters, digits")).to_be_visible()
    page.get_by_label("Topic name").fill("clicks")
    page.get_by_label("Partitions").fill("2")
    page.get_by_text("1 day", exact=True).click()
    page.get_by_role("button", name="Create topic").click()

    expect(page.get_by_role("heading", name="clicks")).to_be_visible()
    expect(page.get_by_role("table", name="Partitions").locator("tbody tr")).to_have_count(2)
    wire = f"{slug}.web.clicks"
    settled(
        lambda: gateway.describe_topic_configs(admin_connection, wire),
        lambda c: c["retention.ms"].value == str(86_400_000),
        what=f"retention.ms of the new topic {wire}",
    )

    page.get_by_role("link", name="Messages").click()
    page.get_by_label("Key").fill("user-7")
    page.get_by_label("Value").fill('{"clicked": "<script>alert(1)</script>"}')
    page.get_by_label("Headers").fill("source=browser")
    page.get_by_label("Target partition").fill("1")
    page.get_by_role("button", name="Produce").click()
    expect(page.get_by_role("status").filter(has_text="Produced to partition 1")).to_be_visible()

    messages = page.get_by_role("table", name="Messages")
    expect(messages).to_contain_text("user-7")
    expect(messages).to_contain_text('"clicked": "<script>alert(1)</script>"')
    expect(messages).to_contain_text("source")
    assert page.locator("table script").count() == 0  # rendered as text, never as markup

    # The list shows it, with its message count, found by the search box.
    page.goto(f"/clusters/{cluster.pk}/topics/")
    page.get_by_label("Search topics").fill("cli")
    row = page.get_by_role("table", name="Topics").get_by_role("row").filter(has_text="clicks")
    expect(row).to_contain_text("2")
