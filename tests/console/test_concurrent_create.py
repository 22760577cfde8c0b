"""Issue 20, goal 4: 20 clusters created at once, from 20 threads, through the API of the
embedded default (`run_console`: SQLite, tasks in the console's process).

Every create is answered 201 and the cluster is ACTIVE; nothing says "database is locked"; the
database holds each name once; and nothing is orphaned: every cluster's key has its
credential and its ACLs on the cell, and the cell holds no binding of the team's keys that the
database does not know. The latencies are printed (bench/cluster_create.py --concurrent
measures them), not asserted: the machine's load decides them.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import httpx

from clusters.services.access.policy import (
    ClusterScope,
    compile_policy_to_acls,
    template_policy,
)
from fleet.kafka.acls import describe_acls
from fleet.kafka.scram import existing_scram_users
from tests.console.test_embedded_concurrency import (  # noqa: F401 (the fixture)
    LOCKED,
    REQUEST_TIMEOUT,
    Console,
    _client,
    _errors,
    _sqlite,
    embedded_console,
)
from tests.plugins.services import log_tail

THREADS = 20
ACTIVE_TIMEOUT = 180.0


def _create(console: Console, name: str, barrier: threading.Barrier, out: dict) -> None:
    with _client(console) as client:
        barrier.wait(timeout=REQUEST_TIMEOUT)
        started = time.monotonic()
        try:
            response = client.post("/clusters/", json={"name": name})
        except httpx.HTTPError as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        result: dict = {"status": response.status_code, "body": response.text[:500]}
        if response.status_code == 201:
            body = response.json()
            state, deadline = body["state"], started + ACTIVE_TIMEOUT
            while state == "CREATING" and time.monotonic() < deadline:
                time.sleep(0.1)
                state = client.get(f"/clusters/{body['id']}/").json()["state"]
            result.update(
                id=body["id"],
                state=state,
                seconds=time.monotonic() - started,
                username=body["initial_key"]["username"],
                prefix=body["prefix"],
            )
        out[name] = result


def test_twenty_clusters_created_at_once_are_all_active_and_whole(
    embedded_console: Console,  # noqa: F811 (the fixture imported above)
    kafka_cell,
):
    console = embedded_console
    run = f"burst{int(time.time()) % 100000}"
    names = [f"{run}-{i}" for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    results: dict[str, dict] = {}
    threads = [
        threading.Thread(target=_create, args=(console, name, barrier, results)) for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + ACTIVE_TIMEOUT + 30)
        assert not thread.is_alive(), f"{thread.name} still running"

    seconds = sorted(r["seconds"] for r in results.values() if "seconds" in r)
    if seconds:
        print(
            "20 concurrent creates -> ACTIVE:",
            json.dumps(
                {
                    "p50": round(statistics.median(seconds), 3),
                    "p95": round(seconds[int(0.95 * (len(seconds) - 1))], 3),
                    "max": round(seconds[-1], 3),
                }
            ),
        )
    bad = {n: r for n, r in results.items() if r.get("status") != 201 or r.get("state") != "ACTIVE"}
    assert not bad, json.dumps(bad, indent=1) + "\n" + _errors(console.logfile)
    log = console.logfile.read_text(errors="replace")
    assert LOCKED not in log, log_tail(console.logfile, 80)

    # Each name once in the database, every row ACTIVE.
    rows = _sqlite(
        console.db,
        "SELECT name, state, COUNT(*) FROM clusters_cluster WHERE name LIKE ? GROUP BY name",
        f"{run}-%",
    )
    assert sorted(r[0] for r in rows) == sorted(names), rows
    assert all(state == "ACTIVE" and count == 1 for _name, state, count in rows), rows

    # Nothing orphaned: each key's credential and ACLs are on the cell, and the cell holds no
    # binding of a key of these clusters beyond what the policy compiles to.
    admin = kafka_cell.admin_connection(timeout=30)
    usernames = {r["username"] for r in results.values()}
    assert existing_scram_users(admin, usernames) == usernames
    on_cell = [b for b in describe_acls(admin) if b.principal.removeprefix("User:") in usernames]
    by_principal: dict[str, set] = {}
    for binding in on_cell:
        by_principal.setdefault(binding.principal, set()).add(binding)
    for result in results.values():
        principal = f"User:{result['username']}"
        scope_team, scope_cluster = result["prefix"].rstrip(".").split(".", 1)
        scope = ClusterScope(team=scope_team, cluster=scope_cluster)
        desired = set(
            compile_policy_to_acls(
                template_policy("produce_consume", scope),
                cluster=scope,
                username=result["username"],
                hosts=[],
            )
        )
        assert by_principal.get(principal) == desired, (
            principal,
            by_principal.get(principal, set()) ^ desired,
        )
