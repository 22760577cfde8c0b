"""The create wizard end to end: a person creates a cluster and uses the Python snippet."""

import re
import subprocess
import sys

from django.core.management import call_command
from playwright.sync_api import expect

from fleet.services.cells import cell_record_local
from tests.fleet.kafka import gateway

EMAIL = "grace@example.com"
PASSWORD = "s3cure-Passw0rd!"


def sign_in(page):
    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()


def test_wizard_creates_an_active_cluster_whose_python_snippet_works(
    page, live_app, kafka_cell, admin_connection, tmp_path
):
    cell_record_local(kafka_cell)
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "web")
    sign_in(page)

    page.get_by_role("link", name="Create cluster").click()
    expect(page.get_by_label("Serverless")).to_be_checked()
    page.get_by_role("button", name="Next").click()

    page.get_by_label("Cluster name").fill("bad name")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert").filter(has_text="letters, digits and '-'")).to_be_visible()
    page.get_by_label("Cluster name").fill("orders")
    page.get_by_label("Tags").fill("env=test")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_label("Produce and consume all topics")).to_be_checked()
    page.get_by_label("Allowed client IP addresses").fill("10.1.0.0/16")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert").filter(has_text="CIDR range")).to_be_visible()
    page.get_by_label("Allowed client IP addresses").fill("")
    # Going back keeps what was typed; so does a refresh.
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Cluster name")).to_have_value("orders")
    page.reload()
    expect(page.get_by_label("Cluster name")).to_have_value("orders")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Next").click()

    review = page.get_by_role("table")
    expect(review).to_contain_text("web.orders.")
    expect(review).to_contain_text("Encryption at rest")
    page.get_by_role("button", name="Create cluster").click()

    expect(page.locator("#cluster-status")).to_contain_text("ACTIVE", timeout=15_000)
    secret = page.get_by_label("Secret").input_value()
    assert len(secret) >= 32
    snippet = page.get_by_label("Python (confluent-kafka) snippet").inner_text()
    assert secret in snippet

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CA certificate").click()
    download.value.save_as(tmp_path / "skiff-ca.pem")

    topic = re.search(r'^TOPIC = "([^"]+)"', snippet, re.M).group(1)
    assert topic.startswith("web.orders.")
    gateway.create_topic(admin_connection, topic, partitions=1)
    (tmp_path / "snippet.py").write_text(snippet)
    result = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "hello from Skiff" in result.stdout

    # The page after a reload no longer shows the secret.
    page.reload()
    expect(page.get_by_label("Secret")).to_have_count(0)
    expect(page.get_by_label("Python (confluent-kafka) snippet")).to_contain_text(
        "<your-key-secret>"
    )
