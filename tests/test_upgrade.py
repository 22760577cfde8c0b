"""Upgrade test (issue 12, acceptance 4): a database made by main before the refactor still
works with the new code.

1. A git worktree of a20cf6a (main before issue 12) migrates a fresh SQLite file.
2. That old code fills it the way a user would have, through its own services, against the
   suite's real Kafka cell: a user and a team, the cell, a cluster provisioned to ACTIVE, two
   topics, a second access key, sampler rows, and a month closed into a finalized invoice. It
   prints what it made, and the old URLs of the pages, as JSON.
3. The new code migrates the same file (`manage.py migrate`, a subprocess).
4. The new code serves it (Django's test client in a subprocess, DATABASE_URL = the file):
   the rows are all there, the cluster page, its topics (read from the cell through the
   tenant facade), the access page, the invoice page and the invoice PDF answer at the old
   URLs, and the invoice is unchanged. Then it deletes the cluster, which also cleans up the
   cell.

Every process gets the same SKIFF_HOME and SECRET_KEY, like an installation being upgraded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "a20cf6a"  # main before issue 12 (the schema snapshot is from the same commit)
STEP_TIMEOUT = 600
MARKER = "UPGRADE-RESULT "

# --- old code: fill the database -----------------------------------------------------------
FILL = textwrap.dedent(
    """
    import datetime as dt
    import json
    import sys
    from types import SimpleNamespace
    from pathlib import Path

    import django

    import clusters

    # The old code, from the worktree (not the new code of an editable install).
    assert Path(clusters.__file__).resolve().is_relative_to(Path.cwd().resolve()), clusters.__file__
    django.setup()

    from django.db import transaction
    from django.db.models import Sum
    from django.urls import reverse
    from django.utils import timezone

    from billing.models import Invoice
    from billing.periods import month_bounds, month_of, previous_month
    from billing.services.invoices import close_month
    from clusters.models import (
        AccessKey, Cluster, ClusterEvent, Topic, TopicMinuteUsage, TopicPartitionEvent,
    )
    from clusters.services.access.keys import access_key_create
    from clusters.services.clusters import ClusterSpec, cluster_create
    from clusters.services.fleet import cell_record_local
    from clusters.services.topics import topic_create
    from console.services.teams import team_create, user_create

    args = json.loads(sys.argv[1])
    cell_info = args["cell"]
    info = SimpleNamespace(
        name=cell_info["name"],
        cluster_id=cell_info["cluster_id"],
        bootstrap=cell_info["bootstrap"],
        ca_path=Path(cell_info["ca_path"]),
        state_dir=Path(cell_info["state_dir"]),
        nodes=[SimpleNamespace(alive=True, **node) for node in cell_info["nodes"]],
    )
    cell = cell_record_local(info)

    user = user_create(email="upgrade@example.com", password=args["password"], name="Upgrade")
    team = team_create(name="Upgrade Co", slug=args["team_slug"], owner=user)
    created = cluster_create(team=team, user=user, spec=ClusterSpec(name="orders-prod"))
    cluster = Cluster.objects.get(pk=created.cluster.pk)  # provisioned inline (eager tasks)
    assert cluster.state == Cluster.State.ACTIVE, (cluster.state, cluster.state_reason)
    topic_create(cluster=cluster, name="orders", partitions=3)
    topic_create(cluster=cluster, name="payments", partitions=2,
                 configs={"retention.ms": "86400000"})
    access_key_create(cluster=cluster, name="billing-app", description="made before the upgrade")

    # Billing needs a closed month: move the cluster's lifecycle back to the start of the month
    # before last (closable whatever today is), then record the sampler's minutes in it.
    now = timezone.now()
    period = previous_month(previous_month(month_of(now)))
    start, end = month_bounds(period)
    activated = ClusterEvent.objects.get(cluster=cluster, kind=ClusterEvent.Kind.ACTIVATED)
    shift = activated.occurred_at - (start + dt.timedelta(days=1, hours=3))
    with transaction.atomic():
        for event in ClusterEvent.objects.filter(cluster=cluster):
            ClusterEvent.objects.filter(pk=event.pk).update(occurred_at=event.occurred_at - shift)
        for event in TopicPartitionEvent.objects.filter(cluster=cluster):
            TopicPartitionEvent.objects.filter(pk=event.pk).update(
                occurred_at=event.occurred_at - shift
            )
        for topic in Topic.objects.filter(cluster=cluster):
            Topic.objects.filter(pk=topic.pk).update(created_at=topic.created_at - shift)
        Cluster.objects.filter(pk=cluster.pk).update(created_at=cluster.created_at - shift)
    gib = 1 << 30
    first = start + dt.timedelta(days=2)
    rows = []
    for name, bytes_in in (("orders", 3 * gib), ("payments", gib)):
        for minute in range(30):
            rows.append(TopicMinuteUsage(
                cluster=cluster, topic=name, minute=first + dt.timedelta(minutes=minute),
                bytes_in=bytes_in // 30, bytes_out=2 * bytes_in // 30, messages_in=1000,
                storage_bytes=bytes_in,
            ))
        # and a few in the current month, not rolled up yet
        for minute in range(5):
            rows.append(TopicMinuteUsage(
                cluster=cluster, topic=name,
                minute=month_bounds(month_of(now))[0] + dt.timedelta(minutes=minute),
                bytes_in=1000, bytes_out=500, messages_in=10, storage_bytes=bytes_in,
            ))
    TopicMinuteUsage.objects.bulk_create(rows)

    closed = close_month(period, now=now)
    invoice = Invoice.objects.get(team=team, period=period)
    assert invoice.status == Invoice.Status.FINALIZED and invoice.number, invoice.status
    lines = list(invoice.lines.order_by("pk").values_list("meter", "quantity", "amount"))
    assert invoice.subtotal > 0 and lines, (invoice.subtotal, lines)

    usage = TopicMinuteUsage.objects.filter(cluster=cluster).aggregate(
        bytes_in=Sum("bytes_in"), bytes_out=Sum("bytes_out")
    )
    result = {
        "user_email": user.email,
        "team_slug": team.slug,
        "cell": cell.name,
        "cluster": {"id": cluster.pk, "name": cluster.name, "state": cluster.state},
        "topics": sorted(Topic.objects.filter(cluster=cluster).values_list("name", "partitions")),
        "keys": sorted(AccessKey.objects.filter(cluster=cluster).values_list("name", "username")),
        "usage_rows": TopicMinuteUsage.objects.filter(cluster=cluster).count(),
        "usage": usage,
        "invoice": {
            "id": invoice.pk,
            "number": invoice.number,
            "status": invoice.status,
            "period": period.isoformat(),
            "subtotal": str(invoice.subtotal),
            "lines": [[meter, str(quantity), str(amount)] for meter, quantity, amount in lines],
        },
        "urls": {
            "cluster": reverse("clusters:detail", args=[cluster.pk]),
            "topics": reverse("clusters:topics", args=[cluster.pk]),
            "topic": reverse("clusters:topic_detail", args=[cluster.pk, "payments"]),
            "access": reverse("clusters:access", args=[cluster.pk]),
            "invoice": reverse("billing:invoice_detail", args=[invoice.pk]),
            "invoice_pdf": reverse("billing:invoice_pdf", args=[invoice.pk]),
        },
        "topic_links": {
            name: reverse("clusters:topic_detail", args=[cluster.pk, name])
            for name in ("orders", "payments")
        },
    }
    print("MARKER" + json.dumps(result, default=str))
    """
).replace("MARKER", MARKER)

# --- new code: check the upgraded database, then delete the cluster --------------------------
CHECK = textwrap.dedent(
    """
    import io
    import json
    import sys

    import django

    django.setup()

    from django.apps import apps
    from django.db.models import Sum
    from django.test import Client
    from pypdf import PdfReader

    before = json.loads(sys.argv[1])

    def model(name):
        # Found by class name: models moved between apps in the refactor (tables kept).
        found = [m for m in apps.get_models() if m.__name__ == name]
        assert len(found) == 1, f"{name}: {found}"
        return found[0]

    User, Team = model("User"), model("Team")
    Cluster, Topic, AccessKey = model("Cluster"), model("Topic"), model("AccessKey")
    TopicMinuteUsage, Invoice = model("TopicMinuteUsage"), model("Invoice")

    user = User.objects.get(email=before["user_email"])
    cluster = Cluster.objects.get(pk=before["cluster"]["id"])
    invoice = Invoice.objects.get(pk=before["invoice"]["id"])
    lines = list(invoice.lines.order_by("pk").values_list("meter", "quantity", "amount"))
    usage = TopicMinuteUsage.objects.filter(cluster=cluster).aggregate(
        bytes_in=Sum("bytes_in"), bytes_out=Sum("bytes_out")
    )
    rows = {
        "user_email": user.email,
        "team_slug": Team.objects.get(slug=before["team_slug"]).slug,
        "cell": cluster.cell.name,
        "cluster": {"id": cluster.pk, "name": cluster.name, "state": cluster.state},
        "topics": sorted(Topic.objects.filter(cluster=cluster).values_list("name", "partitions")),
        "keys": sorted(AccessKey.objects.filter(cluster=cluster).values_list("name", "username")),
        "usage_rows": TopicMinuteUsage.objects.filter(cluster=cluster).count(),
        "usage": usage,
        "invoice": {
            "id": invoice.pk,
            "number": invoice.number,
            "status": invoice.status,
            "period": invoice.period.isoformat(),
            "subtotal": str(invoice.subtotal),
            "lines": [[meter, str(quantity), str(amount)] for meter, quantity, amount in lines],
        },
    }

    client = Client(raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    pages = {}
    for name, url in before["urls"].items():
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        page = {"status": response.status_code, "content_type": response.get("Content-Type", "")}
        if body.startswith(b"%PDF"):
            page["pdf"] = True
            page["pdf_text"] = "\\n".join(
                p.extract_text() or "" for p in PdfReader(io.BytesIO(body)).pages
            )
        else:
            page["text"] = body.decode("utf-8", "replace")
        pages[name] = page

    print("MARKER" + json.dumps({"rows": rows, "pages": pages}, default=str))
    """
).replace("MARKER", MARKER)

CLEANUP = textwrap.dedent(
    """
    import json
    import sys

    import django

    django.setup()

    from clusters.models import Cluster
    from clusters.services.clusters import cluster_delete

    cluster = Cluster.objects.get(pk=int(sys.argv[1]))
    cluster_delete(cluster=cluster)
    cluster.refresh_from_db()
    print("MARKER" + json.dumps({"state": cluster.state}))
    """
).replace("MARKER", MARKER)


def _env(database: Path, home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "PYTHONPATH"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings",
        DATABASE_URL=f"sqlite:///{database}",
        SKIFF_HOME=str(home),
        SKIFF_TASKS_INLINE="1",
        DJANGO_SECRET_KEY="upgrade-test-secret-key-kept-across-the-upgrade",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _run(args: list[str], *, cwd: Path, env: dict[str, str], what: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert result.returncode == 0, (
        f"{what} failed (exit {result.returncode}) in {cwd}:\n"
        f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
    )
    return result.stdout


def _result(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    assert lines, f"no result printed:\n{stdout[-4000:]}"
    return json.loads(lines[-1].removeprefix(MARKER))


@pytest.fixture
def old_tree(tmp_path):
    """A worktree of the commit before the refactor, removed afterwards."""
    path = tmp_path / f"skiff-{BEFORE}"
    subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True, timeout=60)
    added = subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), BEFORE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, (
        f"git worktree add {BEFORE} failed (a clone needs the history back to {BEFORE}):\n"
        + added.stderr
    )
    try:
        # Scripts run from the worktree import its packages: check it is not the new code.
        assert (path / "clusters" / "kafka" / "gateway.py").is_file()
        yield path
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(path)],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True, timeout=60)


def test_database_of_main_before_the_refactor_upgrades_and_works(old_tree, kafka_cell, tmp_path):
    database = tmp_path / "skiff.sqlite3"
    home = tmp_path / "skiff-home"
    home.mkdir(mode=0o700)
    env = _env(database, home)

    # 1-2. The old code migrates and fills the database, on the real cell.
    _run(["manage.py", "migrate", "--noinput"], cwd=old_tree, env=env, what="migrate (old)")
    cell = {
        "name": kafka_cell.name,
        "cluster_id": kafka_cell.cluster_id,
        "bootstrap": kafka_cell.bootstrap,
        "ca_path": str(kafka_cell.ca_path),
        "state_dir": str(kafka_cell.state_dir),
        "nodes": [
            {
                "node_id": node.node_id,
                "host": node.host,
                "client_port": node.client_port,
                "metrics_port": node.metrics_port,
                "pid": node.pid,
            }
            for node in kafka_cell.nodes
        ],
    }
    fill_args = {
        "cell": cell,
        "team_slug": f"upgrade{os.getpid()}",
        "password": "kept-Across-2-versions",
    }
    before = _result(
        _run(["-c", FILL, json.dumps(fill_args)], cwd=old_tree, env=env, what="fill (old)")
    )
    assert before["cluster"]["state"] == "ACTIVE"
    assert [name for name, _ in before["topics"]] == ["orders", "payments"]

    try:
        # 3. The new code migrates the same file.
        _run(["manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, what="migrate (new)")

        # 4. Everything is still there and works.
        after = _result(
            _run(["-c", CHECK, json.dumps(before)], cwd=ROOT, env=env, what="check (new)")
        )
        rows = after["rows"]
        expected = {key: before[key] for key in rows}
        assert rows == expected, "rows changed across the upgrade"

        pages = after["pages"]
        broken = [name for name, page in pages.items() if page["status"] != 200]
        assert not broken, "pages that no longer work:\n" + "\n\n".join(
            f"{name} {before['urls'][name]}: HTTP {pages[name]['status']}\n"
            + pages[name].get("text", "")[-3000:]
            for name in broken
        )
        cluster_name = before["cluster"]["name"]
        assert cluster_name in pages["cluster"]["text"]
        for topic, link in before["topic_links"].items():  # listed, with their old links
            assert f'href="{link}"' in pages["topics"]["text"], f"topic {topic} not listed"
        # The topic page describes the topic on the cell: its config set before the upgrade.
        assert "retention.ms" in pages["topic"]["text"]
        assert "86400000" in pages["topic"]["text"]
        for key, _username in before["keys"]:
            assert key in pages["access"]["text"], f"key {key} not on the access page"
        assert before["invoice"]["number"] in pages["invoice"]["text"]
        pdf = pages["invoice_pdf"]
        assert pdf["content_type"].startswith("application/pdf"), pdf["content_type"]
        assert pdf.get("pdf"), "the invoice PDF does not start with %PDF"
        assert before["invoice"]["number"] in pdf["pdf_text"]
    finally:
        # The cluster's topics, users and ACLs leave the shared cell; deletion works too.
        deleted = _result(
            _run(
                ["-c", CLEANUP, str(before["cluster"]["id"])],
                cwd=ROOT,
                env=env,
                what="delete the cluster (new)",
            )
        )
    assert deleted["state"] in {"DELETED", "DELETING"}, deleted
