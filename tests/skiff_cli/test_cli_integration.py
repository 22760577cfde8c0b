"""The real `skiff` executable against a live console and the real cell (issue 18).

Every step runs the installed console script in a subprocess, exactly as a user's terminal
would, with its own config folder. JSON output is checked against the API's OpenAPI
components, so scripts can rely on the field names.
"""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.periods import month_of
from billing.services.invoices import recompute_draft
from clusters.models import Cluster
from console.models import Team, User
from console.services.teams import api_token_create
from fleet.services.cells import cell_record_local
from tests.factories import ClusterFactory
from tests.skiff_cli.cli import Skiff
from tests.skiff_cli.schema import ApiSchema

EMAIL = "cli@example.com"
PASSWORD = "a long cli password 42"
LINES = 1000


def _team_token(slug: str) -> tuple[Team, str]:
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", slug)
    team = Team.objects.get(slug=slug)
    _, raw = api_token_create(user=User.objects.get(email=EMAIL), team=team, name="cli")
    return team, raw


def _wait_for(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s (last: {last!r})")


def test_a_terminal_session_from_login_to_delete(live_app, kafka_cell, tmp_path):
    cell_record_local(kafka_cell)
    team, token = _team_token("cli")
    skiff = Skiff(tmp_path / "config")
    schema = ApiSchema(live_app.url, token)

    login = skiff("login", "--url", live_app.url, input=token + "\n")
    assert f"as {EMAIL}" in login.stdout and token not in login.stdout
    assert oct((tmp_path / "config" / "config.json").stat().st_mode & 0o777) == "0o600"
    whoami = skiff("whoami", "-o", "json").json()
    schema.validate(whoami, "CurrentTeamOutput")
    assert (whoami["user"], whoami["role"]) == (EMAIL, "owner")

    created = skiff(
        "clusters", "create", "cli-orders", "--tag", "env=test", "--wait",
        "--ca-out", str(tmp_path / "ca.pem"), "-o", "json",
    ).json()  # fmt: skip
    schema.validate(created, "ClusterCreatedOutput")
    assert created["state"] == "ACTIVE" and created["tags"] == {"env": "test"}
    assert created["initial_key"]["secret"], "the initial secret is shown once, at creation"
    assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    listed = skiff("clusters", "list", "-o", "json").json()
    schema.validate(listed, "ClusterOutput", many=True)
    assert [c["name"] for c in listed] == ["cli-orders"]
    skiff("clusters", "use", "cli-orders")

    topic = skiff("topics", "create", "events", "--partitions", "3", "-o", "json").json()
    schema.validate(topic, "TopicDetailOutput")
    rows = skiff("topics", "list", "-o", "json").json()
    schema.validate(rows, "TopicRowOutput", many=True)
    assert [r["name"] for r in rows] == ["events"]

    # 1,000 lines, keyed so that each key's values land in one partition in order.
    lines = "".join(f"k{i % 7}:{i}\n" for i in range(LINES))
    produced = skiff("produce", "events", "--key-separator", ":", input=lines)
    assert f"{LINES} message(s) produced" in produced.stderr

    consumed = skiff(
        "consume", "events", "--from-beginning", "--group", "readers", "--max", str(LINES),
        "-o", "json",
    ).json()  # fmt: skip
    assert len(consumed) == LINES
    by_partition: dict[int, list[dict]] = defaultdict(list)
    for record in consumed:
        by_partition[record["partition"]].append(record)
    for partition, records in by_partition.items():
        offsets = [r["offset"] for r in records]
        assert offsets == sorted(offsets), f"partition {partition} out of order"
        per_key: dict[str, list[int]] = defaultdict(list)
        for r in records:
            per_key[r["key"]].append(int(r["value"]))
        for key, values in per_key.items():
            assert values == sorted(values), f"key {key} out of order in partition {partition}"
    assert sorted(int(r["value"]) for r in consumed) == list(range(LINES))

    # Lag: ten more messages after the group committed everything it read.
    skiff("produce", "events", input="".join(f"late-{i}\n" for i in range(10)))

    def group_lag():
        detail = skiff("groups", "describe", "readers", "-o", "json").json()
        return detail if detail["lag"] == 10 else None

    detail = _wait_for(group_lag, timeout=30, what="the group's lag reaching 10")
    schema.validate(detail, "GroupDetailOutput")
    schema.validate(skiff("groups", "list", "-o", "json").json(), "GroupRowOutput", many=True)

    dry = skiff("groups", "reset-offsets", "readers", "--to-earliest", "--dry-run", "-o", "json")
    schema.validate(dry.json(), "ResetOffsetsOutput")
    assert {o["offset"] for o in dry.json()["offsets"]} == {0}
    still = skiff("groups", "describe", "readers", "-o", "json").json()
    assert still["lag"] == 10, "a dry run must commit nothing"
    skiff("groups", "reset-offsets", "readers", "--to-earliest")
    _wait_for(
        lambda: skiff("groups", "describe", "readers", "-o", "json").json()["lag"] == LINES + 10,
        timeout=30,
        what="the group's lag after the reset",
    )

    # A producer-only key: producing works, consuming is refused with the permission code.
    key = skiff("keys", "create", "ingest", "--template", "producer", "-o", "json").json()
    schema.validate(key, "KeyWithSecretOutput")
    skiff("produce", "events", input="from the producer key\n")
    refused = skiff("consume", "events", "--from-beginning", "--max", "1", ok=False)
    assert refused.returncode == 4, refused
    assert "not allowed" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    keys = skiff("keys", "list", "-o", "json").json()
    schema.validate(keys, "KeyOutput", many=True)
    policy = skiff("keys", "policy", "get", "ingest", "-o", "json").json()
    schema.validate(policy, "PolicyOutput")

    # Money: the month's draft invoice, downloaded as a PDF.
    invoice = recompute_draft(team, month_of(timezone.now()))
    assert invoice is not None
    invoices = skiff("invoices", "list", "-o", "json").json()
    schema.validate(invoices, "InvoiceOutput", many=True)
    pdf = tmp_path / "invoice.pdf"
    skiff("invoices", "download", str(invoice.id), "--pdf", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF-")
    schema.validate(skiff("usage", "-o", "json").json(), "MonthUsageOutput")

    deleted = skiff("clusters", "delete", "cli-orders", "--yes", "-o", "json").json()
    schema.validate(deleted, "ClusterOutput")
    assert deleted["state"] in ("DELETING", "DELETED")


def test_bad_input_gets_one_line_and_the_documented_exit_code(
    live_app, kafka_cell, unguarded_kafka_cell, tmp_path
):
    cell_record_local(kafka_cell)
    team, token = _team_token("cli-errors")
    skiff = Skiff(tmp_path / "config")

    wrong = skiff("login", "--url", live_app.url, input="not-a-token\n", ok=False)
    assert wrong.returncode == 4, wrong
    assert wrong.stderr.startswith("error: ") and len(wrong.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "config" / "config.json").exists(), "a wrong token is not stored"

    skiff("login", "--url", live_app.url, input=token + "\n")
    unknown = skiff("clusters", "describe", "987654", ok=False)
    assert unknown.returncode == 3, unknown
    unknown_name = skiff("topics", "list", "--cluster", "no-such-cluster", ok=False)
    assert unknown_name.returncode == 3 and "no-such-cluster" in unknown_name.stderr

    usage = skiff("groups", "reset-offsets", "g", "--cluster", "1", ok=False)
    assert usage.returncode == 2, usage

    # An invalid topic config on a real, active cluster: the API's message, exit 1.
    cluster = ClusterFactory(team=team, cell=cell_record_local(kafka_cell), name="cli-bad")
    invalid = skiff(
        "topics", "create", "t1", "--config", "no.such.config=1", "--cluster", str(cluster.id),
        ok=False,
    )  # fmt: skip
    assert invalid.returncode == 1, invalid
    assert "no.such.config" in invalid.stderr and len(invalid.stderr.strip().splitlines()) == 1

    # A cell that is down: its only broker stopped (SIGSTOP) while the command runs.
    stopped_cell = cell_record_local(unguarded_kafka_cell)
    on_stopped = ClusterFactory(team=team, cell=stopped_cell, name="cli-stopped")
    assert on_stopped.state == Cluster.State.ACTIVE
    pids = [node.pid for node in unguarded_kafka_cell.nodes if node.pid]
    assert pids, "the policy-free cell reports no broker pid"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        down = skiff("topics", "describe", "t1", "--cluster", str(on_stopped.id), ok=False)
        took = time.monotonic() - started
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert down.returncode == 5, down
    assert len(down.stderr.strip().splitlines()) == 1
    assert took < 60, f"the command took {took:.0f} s against a stopped cell"


@pytest.fixture(autouse=True)
def _no_skiff_environment(monkeypatch):
    for name in ("SKIFF_URL", "SKIFF_TOKEN", "SKIFF_PROFILE", "SKIFF_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
