"""Benchmark: closing a month of billing — 10,000 teams' invoices from 5 million usage records.

Starts a throwaway PostgreSQL (the test suite's harness, tests/plugins/services.py: initdb in
a temp dir on /dev/shm when it has room, a random free port, fsync off), points Django at it
and migrates. Seeds, with COPY, 10,000 teams x 3 clusters x 5 meters with a month of hourly
usage records (default month 2026-10, 744 h; every cluster lives `--hours` consecutive hours
of it, at a different offset per cluster, so the default yields 5,100,000 records spread over
the whole month, loaded in hour order as the hourly roll-up writes them), the lifecycle events
of those clusters, and a `RolledUpHour` for every hour from the first seeded hour to the close
(the month, and the 2 hours after it that have ended when it is closed at end + 2 h, with the
usage of the clusters still active then), so `close_month` finds everything rolled up and does
not roll hours up from the raw sources. PostgreSQL gets ANALYZEd, as autovacuum would have.

Baseline, measured in the same run: the same month one year earlier with the first 1,000 teams
only (their own, since deleted clusters; a different year, so its invoice numbers do not share
the sequence), closed first. Then the main month is closed and timed, checked (every team has
one finalized invoice, numbers gap-free 1..N, each subtotal equals the sum of its line amounts
and an independent SQL computation of SUM(quantity) x price rounded half-up per line), and
closed a second time, which must change nothing.

    .venv/bin/python bench/month_close.py [--teams 10000] [--clusters-per-team 3]
        [--hours N] [--month 2026-10] [--baseline-teams 1000] [--batch-size 500]
        [--profile] [--keep] [--seed-only]

--profile runs the main close under cProfile and prints the top functions and the SQL
statements that took the most time. --keep leaves the PostgreSQL data dir (and prints how to
start the server on it again). The goal is a close of the 10,000 invoices in ≤ 60 s.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import math
import os
import pstats
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.plugins.services import Postgres, find_pg_bindir, temp_base  # noqa: E402

METERS = ("cluster_hours", "partition_hours", "storage", "data_in", "data_out")
MIN_RECORDS = 5_000_000
TMP_PREFIX = "skiff-bench-month-close-"
HOUR = dt.timedelta(hours=1)
UTC = dt.UTC
TWELVE_PLACES = Decimal("0.000000000001")
# Distinct quantities per meter that hourly values are drawn from: a lookup instead of a random
# draw per row keeps generating 5 million rows fast; the index mixes cluster and hour.
POOL_SIZE = 1 << 14


class BenchPostgres(Postgres):
    """The suite's throwaway server, sized for a 5-million-row table instead of unit tests.

    Still no durability (fsync off). Later `-c` options override the harness's earlier ones.
    """

    EXTRA_SETTINGS = {
        "shared_buffers": "512MB",
        "work_mem": "32MB",
        "maintenance_work_mem": "512MB",
        "max_wal_size": "8GB",
        # COPY into the tables logs less with no replication to feed.
        "wal_level": "minimal",
        "max_wal_senders": "0",
        # VACUUM ANALYZE runs explicitly after seeding; autovacuum would add CPU to the timings.
        "autovacuum": "off",
    }

    def _options(self) -> list[str]:
        extra = [arg for k, v in self.EXTRA_SETTINGS.items() for arg in ("-c", f"{k}={v}")]
        return super()._options() + extra


# --- the seeded data ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterPlan:
    """One seeded cluster: which team, and the hours of the month it was alive."""

    team_slug: str
    name: str
    first_hour: int  # index of its first hour in the month
    hours: int  # hours of the month with usage (the first and last may be partial)
    created_at: dt.datetime
    deleted_at: dt.datetime | None  # None: still active after the month


@dataclass
class MonthSeed:
    period: dt.date
    start: dt.datetime
    end: dt.datetime
    team_slugs: list[str]
    clusters: list[ClusterPlan]
    records: int = 0


def month_plan(
    period: dt.date,
    team_slugs: list[str],
    clusters_per_team: int,
    hours: int,
    prefix: str,
    *,
    outlive_month: bool,
) -> MonthSeed:
    """Deterministic cluster lifetimes: `hours` long each, offsets spread over the month.

    A cluster whose window starts at the month's first hour was created at 00:00 that day
    (nothing is billed before the seeded months, so none exists earlier); the others were
    created some minutes into their first hour. One whose window ends with the month is still
    active after it if `outlive_month`, else deleted at the month's end; the others were
    deleted some minutes into their last hour.
    """
    from billing.periods import hours_in_month, month_bounds

    start, end = month_bounds(period)
    month_hours = hours_in_month(period)
    hours = min(hours, month_hours)
    slots = month_hours - hours + 1
    clusters = []
    for team_index, slug in enumerate(team_slugs):
        for j in range(clusters_per_team):
            c = team_index * clusters_per_team + j
            first = (c * 7919) % slots
            # Minutes into the first/last hour; 1..59, never 0, so those hours are partial.
            created_min, deleted_min = 1 + (c * 13) % 59, 1 + (c * 29) % 59
            if first == 0:
                created_at = start
            else:
                created_at = start + first * HOUR + dt.timedelta(minutes=created_min)
            last = first + hours - 1
            if last < month_hours - 1:
                deleted_at = start + last * HOUR + dt.timedelta(minutes=deleted_min)
            else:
                deleted_at = None if outlive_month else end
            clusters.append(ClusterPlan(slug, f"{prefix}{j}", first, hours, created_at, deleted_at))
    return MonthSeed(period, start, end, team_slugs, clusters)


def quantity_pools(seed: int) -> dict[str, list[str]]:
    """Per meter, POOL_SIZE hourly quantities as COPY text (12 decimal places)."""
    rng = random.Random(seed)

    def twelve(value: float) -> str:
        return str(Decimal(value).quantize(TWELVE_PLACES, rounding=ROUND_HALF_UP))

    return {
        "cluster_hours": ["1"] * POOL_SIZE,
        # Partitions held for the hour (whole partitions; a topic created mid-hour would add a
        # fraction, which the partial first/last hours of a cluster already exercise).
        "partition_hours": [
            str(rng.choice((1, 3, 6, 12, 24, 50, 120, 300))) for _ in range(POOL_SIZE)
        ],
        # Time-weighted stored GiB during the hour.
        "storage": [twelve(rng.lognormvariate(2.5, 1.5)) for _ in range(POOL_SIZE)],
        # GiB in/out during the hour (byte deltas ÷ 2^30).
        "data_in": [twelve(rng.lognormvariate(0.0, 2.0)) for _ in range(POOL_SIZE)],
        "data_out": [twelve(rng.lognormvariate(0.5, 2.0)) for _ in range(POOL_SIZE)],
    }


def ts(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def copy_rows(cur, table: str, columns: tuple[str, ...], chunks) -> None:
    """COPY text chunks (already tab-separated lines) into a table."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk)


def seed_teams(conn, slugs: list[str], created_at: dt.datetime) -> dict[str, int]:
    with conn.cursor() as cur:
        copy_rows(
            cur,
            "console_team",
            ("name", "slug", "created_at"),
            ["".join(f"Bench team {slug[6:]}\t{slug}\t{ts(created_at)}\n" for slug in slugs)],
        )
        cur.execute("SELECT slug, id FROM console_team WHERE slug = ANY(%s)", (slugs,))
        return dict(cur.fetchall())


def seed_clusters(conn, seed: MonthSeed, team_ids: dict[str, int], cell_id: int) -> list[int]:
    """The clusters and their lifecycle events; returns cluster ids in plan order."""
    rows = []
    for plan in seed.clusters:
        state = "ACTIVE" if plan.deleted_at is None else "DELETED"
        deleted = r"\N" if plan.deleted_at is None else ts(plan.deleted_at)
        changed = ts(plan.deleted_at or plan.created_at)
        rows.append(
            f"{team_ids[plan.team_slug]}\t{plan.name}\t{cell_id}\t{state}\t\t\t{{}}\t[]\t"
            f"{ts(plan.created_at)}\t{changed}\t{deleted}\n"
        )
    with conn.cursor() as cur:
        copy_rows(
            cur,
            "clusters_cluster",
            (
                "team_id",
                "name",
                "cell_id",
                "state",
                "state_reason",
                "progress",
                "tags",
                "allowed_client_ips",
                "created_at",
                "updated_at",
                "deleted_at",
            ),
            ["".join(rows)],
        )
        cur.execute(
            "SELECT team_id, name, id FROM clusters_cluster WHERE team_id = ANY(%s)",
            (list(team_ids.values()),),
        )
        ids = {(team_id, name): cid for team_id, name, cid in cur.fetchall()}
        cluster_ids = [ids[(team_ids[p.team_slug], p.name)] for p in seed.clusters]
        events = []
        for cid, plan in zip(cluster_ids, seed.clusters, strict=True):
            events.append(f"{cid}\trequested\t{ts(plan.created_at - dt.timedelta(seconds=40))}\t\n")
            events.append(f"{cid}\tactivated\t{ts(plan.created_at)}\t\n")
            if plan.deleted_at is not None:
                events.append(f"{cid}\tdeleted\t{ts(plan.deleted_at)}\t\n")
        copy_rows(
            cur,
            "clusters_clusterevent",
            ("cluster_id", "kind", "occurred_at", "detail"),
            ["".join(events)],
        )
    return cluster_ids


def alive_fraction(plan: ClusterPlan, hour_start: dt.datetime) -> Decimal | None:
    """Share of the hour the cluster existed, or None for a whole hour (the common case)."""
    hour_end = hour_start + HOUR
    begin = max(plan.created_at, hour_start)
    finish = min(plan.deleted_at or hour_end, hour_end)
    if begin == hour_start and finish == hour_end:
        return None
    return Decimal(int((finish - begin).total_seconds())) / 3600


def seed_usage(
    conn, seed: MonthSeed, cluster_ids: list[int], pools: dict[str, list[str]], tail_hours: int
) -> dict[dt.datetime, int]:
    """Usage records in hour order, as the hourly roll-up writes them; records per hour.

    Covers the month and the `tail_hours` after it (clusters still active then keep using;
    those hours are closed, and rolled up, by the time the month is closed).
    """
    month_hours = int((seed.end - seed.start) / HOUR)
    alive: list[list[int]] = [[] for _ in range(month_hours + tail_hours)]
    for index, plan in enumerate(seed.clusters):
        last = plan.first_hour + plan.hours
        if plan.deleted_at is None:
            last += tail_hours
        for h in range(plan.first_hour, last):
            alive[h].append(index)
    mask = POOL_SIZE - 1
    per_hour: dict[dt.datetime, int] = {}

    def chunks():
        for h, alive_now in enumerate(alive):
            hour_start = seed.start + h * HOUR
            # Rolled up a few minutes after the hour closed.
            tail = f"\t{ts(hour_start)}\t"
            updated = f"\t{ts(hour_start + HOUR + dt.timedelta(minutes=2))}\n"
            lines = []
            for index in alive_now:
                cid = cluster_ids[index]
                plan = seed.clusters[index]
                mix = (cid * 2654435761 + h * 40503) & mask
                fraction = None
                if h == plan.first_hour or h == plan.first_hour + plan.hours - 1:
                    fraction = alive_fraction(plan, hour_start)
                for meter in METERS:
                    quantity = pools[meter][mix]
                    if fraction is not None:
                        quantity = str(
                            (Decimal(quantity) * fraction).quantize(
                                TWELVE_PLACES, rounding=ROUND_HALF_UP
                            )
                        )
                    lines.append(f"{cid}\t{meter}{tail}{quantity}{updated}")
                    mix = (mix * 31 + 7) & mask
            per_hour[hour_start] = len(lines)
            yield "".join(lines)

    with conn.cursor() as cur:
        # The foreign key's per-row trigger adds over half to the load time; the cluster ids come
        # from the table itself, and check_foreign_keys() proves it afterwards.
        cur.execute("SET LOCAL session_replication_role = replica")
        # Secondary indexes are built faster once, after the load, than row by row.
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'billing_usagerecord' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        secondary = cur.fetchall()
        for name, _ in secondary:
            cur.execute(f'DROP INDEX "{name}"')
        copy_rows(
            cur,
            "billing_usagerecord",
            ("cluster_id", "meter", "hour_start", "quantity", "updated_at"),
            chunks(),
        )
        for _, definition in secondary:
            cur.execute(definition)
    seed.records = sum(count for hour, count in per_hour.items() if hour < seed.end)
    return per_hour


def seed_rolled_up_hours(
    conn, records: dict[dt.datetime, int], first: dt.datetime, end: dt.datetime
) -> int:
    """A marker for every hour in `[first, end)`: the roll-up has run for all of them.

    Hours between the seeded months had no cluster alive, so their roll-up wrote 0 records.
    """
    rows, hour = [], first
    while hour < end:
        rolled_at = ts(hour + HOUR + dt.timedelta(minutes=2))
        rows.append(f"{ts(hour)}\t{rolled_at}\t{records.get(hour, 0)}\n")
        hour += HOUR
    with conn.cursor() as cur:
        copy_rows(
            cur, "billing_rolleduphour", ("hour_start", "rolled_up_at", "records"), ["".join(rows)]
        )
    return len(rows)


# --- checks -------------------------------------------------------------------------------


def check_foreign_keys(conn) -> None:
    """What the foreign key trigger skipped during the load: every record has its cluster."""
    orphans = conn.execute(
        "SELECT COUNT(*) FROM billing_usagerecord u "
        "WHERE NOT EXISTS (SELECT 1 FROM clusters_cluster c WHERE c.id = u.cluster_id)"
    ).fetchone()[0]
    if orphans:
        raise RuntimeError(f"{orphans} usage records name no cluster: the seeding is wrong")


INDEPENDENT_LINES_SQL = """
WITH prices AS (
    SELECT meter, unit_price, effective_from,
           LEAD(effective_from) OVER (PARTITION BY meter ORDER BY effective_from) AS effective_to
    FROM billing_priceversion
),
usage AS (
    SELECT c.team_id, u.cluster_id, u.meter, p.unit_price, SUM(u.quantity) AS used
    FROM billing_usagerecord u
    JOIN clusters_cluster c ON c.id = u.cluster_id
    JOIN prices p ON p.meter = u.meter
        AND p.effective_from <= (u.hour_start AT TIME ZONE 'UTC')::date
        AND (p.effective_to IS NULL OR (u.hour_start AT TIME ZONE 'UTC')::date < p.effective_to)
    WHERE u.hour_start >= %(start)s AND u.hour_start < %(end)s {team_filter}
    GROUP BY c.team_id, u.cluster_id, u.meter, p.unit_price
),
billed AS (
    -- Storage is metered in GiB-hours and billed per GiB-month.
    SELECT team_id, cluster_id, meter, unit_price,
           ROUND(CASE WHEN meter = 'storage' THEN used / %(hours)s ELSE used END, 6) AS quantity
    FROM usage
)
-- ROUND on numeric rounds halves away from zero: half-up, for amounts that are never negative.
SELECT team_id, cluster_id, meter, unit_price, quantity, ROUND(quantity * unit_price, 2)
FROM billed
"""


def independent_lines(cur, seed: MonthSeed, team_id: int | None):
    """(team, cluster, meter, price) → (quantity, amount) computed in SQL from usage records.

    Quantity in the billing unit to 6 places, amount = that quantity x price to the cent.
    """
    sql = INDEPENDENT_LINES_SQL.format(
        team_filter="AND c.team_id = %(team)s" if team_id is not None else ""
    )
    hours = int((seed.end - seed.start) / HOUR)
    cur.execute(sql, {"start": seed.start, "end": seed.end, "hours": hours, "team": team_id})
    return {
        (team, cluster, meter, price): (quantity, amount)
        for team, cluster, meter, price, quantity, amount in cur.fetchall()
    }


def fingerprint(cur, period: dt.date) -> tuple[int, int, str]:
    """Invoices of a period and all their lines, every column, as one digest."""
    cur.execute(
        """
        SELECT COUNT(DISTINCT i.id), COUNT(l.id),
               md5(string_agg(concat_ws('|', i.*::text, l.*::text), ',' ORDER BY i.id, l.id))
        FROM billing_invoice i LEFT JOIN billing_invoiceline l ON l.invoice_id = i.id
        WHERE i.period = %s
        """,
        (period,),
    )
    return cur.fetchone()


class QueryTimer:
    """Counts the SQL statements Django runs and their time, grouped by statement text."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.by_statement: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.count += 1
            self.seconds += elapsed
            entry = self.by_statement[re.sub(r"\s+", " ", sql)[:160]]
            entry[0] += 1
            entry[1] += elapsed


class GcTimer:
    """Time spent in Python's cyclic garbage collector (grows with the live heap)."""

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections += 1
            self.seconds += time.perf_counter() - self._started


@dataclass
class CloseRun:
    seconds: float
    cpu_seconds: float  # this Python process
    postgres_cpu_seconds: float  # every PostgreSQL process: backend, parallel workers, …
    result: object
    queries: QueryTimer
    gc: GcTimer
    lines: int = 0

    @property
    def total_cpu_seconds(self) -> float:
        return self.cpu_seconds + self.postgres_cpu_seconds


def _proc_stat(pid: int) -> list[str]:
    # Fields after "(comm)": state, ppid, …, utime (index 11), stime, cutime, cstime.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu_seconds(postmaster_pid: int) -> float:
    """CPU time of the whole server so far: the postmaster with the children it has reaped
    (parallel workers that came and went), plus its live children (the backends)."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = _proc_stat(postmaster_pid)
    total = sum(int(v) for v in fields[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _proc_stat(int(entry.name))
        except (OSError, IndexError):
            continue  # exited meanwhile
        if fields[1] == str(postmaster_pid):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def timed_close(
    period: dt.date, now: dt.datetime, batch_size: int, profile: bool, postmaster_pid: int
) -> CloseRun:
    """One close_month, timed: wall, this process's CPU, the server's CPU, SQL statements.

    On a shared host wall time includes waiting for a CPU; CPU times barely do.
    """
    from django.db import connection

    from billing.services.invoices import close_month

    timer, gc_timer = QueryTimer(), GcTimer()
    profiler = cProfile.Profile() if profile else None
    gc.callbacks.append(gc_timer)
    with connection.execute_wrapper(timer):
        pg0 = postgres_cpu_seconds(postmaster_pid)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = close_month(period, now=now, batch_size=batch_size)
        if profiler is not None:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        pg_cpu = postgres_cpu_seconds(postmaster_pid) - pg0
    gc.callbacks.remove(gc_timer)
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
        print("SQL statements by total time (count, seconds, statement):")
        top = sorted(timer.by_statement.items(), key=lambda kv: kv[1][1], reverse=True)[:15]
        for statement, (count, seconds) in top:
            print(f"  {count:>8,} {seconds:8.2f}s  {statement}")
    return CloseRun(wall, cpu, pg_cpu, result, timer, gc_timer)


def describe(run: CloseRun) -> str:
    return (
        f"{run.seconds:.2f} s wall; CPU {run.cpu_seconds:.2f} s Python + "
        f"{run.postgres_cpu_seconds:.2f} s PostgreSQL; {run.queries.count:,} SQL statements "
        f"waited on for {run.queries.seconds:.2f} s; {run.gc.collections:,} garbage "
        f"collections took {run.gc.seconds:.2f} s"
    )


# --- main ---------------------------------------------------------------------------------


def remove_stale_dirs(base: str) -> None:
    """Data dirs of earlier runs killed before cleaning up (they hold gigabytes of tmpfs)."""
    for path in Path(base).glob(TMP_PREFIX + "*"):
        try:
            pid = int((path / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # kept with --keep, or not ours
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


def default_hours(teams: int, clusters_per_team: int) -> int:
    return math.ceil(MIN_RECORDS / (teams * clusters_per_team * len(METERS)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=10_000)
    parser.add_argument("--clusters-per-team", type=int, default=3)
    parser.add_argument(
        "--hours",
        type=int,
        help="hours of usage per cluster (each with all 5 meters); default: enough for "
        f"{MIN_RECORDS:,} records, at most the whole month",
    )
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--baseline-teams", type=int, default=1_000)
    parser.add_argument("--batch-size", type=int, default=500, help="close_month's batch_size")
    parser.add_argument("--profile", action="store_true", help="cProfile + SQL time per statement")
    parser.add_argument("--keep", action="store_true", help="leave the PostgreSQL data dir")
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop (with --keep)")
    args = parser.parse_args()
    hours = args.hours or default_hours(args.teams, args.clusters_per_team)
    baseline_teams = min(args.baseline_teams, args.teams)

    base = temp_base()
    remove_stale_dirs(base)
    work = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=base))
    work.chmod(0o755)  # traversable by the unprivileged user PostgreSQL runs as
    (work / "owner.pid").write_text(str(os.getpid()))
    pgdir = work / "postgres"
    pgdir.mkdir(mode=0o700)
    home = work / "skiff-home"
    home.mkdir(mode=0o700)
    postgres = BenchPostgres(bindir=find_pg_bindir(), tmpdir=pgdir)

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    try:
        started = time.perf_counter()
        postgres.start()
        print(
            f"PostgreSQL {postgres.bindir.parent.name} on 127.0.0.1:{postgres.port} in {work} "
            f"({time.perf_counter() - started:.1f} s); host: {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        return run(args, hours, baseline_teams, postgres, home)
    finally:
        try:
            if "django.db" in sys.modules:  # Django was set up: disconnect before the stop
                from django.db import connections

                connections.close_all()
        finally:
            postgres.stop()
        if args.keep:
            (work / "owner.pid").unlink(missing_ok=True)
            run_as = "runuser -u postgres -- " if os.geteuid() == 0 else ""
            print(
                f"kept {postgres.datadir}; start it with: {run_as}"
                f"{postgres.bindir / 'postgres'} -D {postgres.datadir} -c port=<port> "
                f"-c unix_socket_directories={pgdir} (user skiff, password {postgres.password})"
            )
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args, hours: int, baseline_teams: int, postgres: Postgres, home: Path) -> int:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DATABASE_URL": postgres.url,
            "SKIFF_HOME": str(home),
            "SKIFF_TASKS_INLINE": "1",
        }
    )
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    import psycopg
    from django.core.management import call_command

    from billing.periods import hour_floor, hours_in_month, parse_month
    from fleet.models import Cell

    call_command("migrate", verbosity=0)
    period = parse_month(args.month)
    hours = min(hours, hours_in_month(period))
    baseline_period = period.replace(year=period.year - 1)
    grace = dt.timedelta(hours=2)

    # --- seed ---
    started = time.perf_counter()
    cell = Cell.objects.create(
        name="bench",
        bootstrap_servers="127.0.0.1:9092",
        credentials_path=str(home / "admin.json"),
        ca_path=str(home / "ca.pem"),
    )
    slugs = [f"bench-{i:05d}" for i in range(args.teams)]
    main_seed = month_plan(period, slugs, args.clusters_per_team, hours, "c", outlive_month=True)
    # Baseline clusters are all gone by the end of their month: the main month never sees them
    # (one alive since would have been billed every month in between).
    baseline_seed = month_plan(
        baseline_period,
        slugs[:baseline_teams],
        args.clusters_per_team,
        hours,
        "old",
        outlive_month=False,
    )
    pools = quantity_pools(seed=20261001)
    # The hours after the month that have closed when it is closed (at end + grace).
    tail_hours = int((hour_floor(main_seed.end + grace) - main_seed.end) / HOUR)
    seeds = [s for s in (baseline_seed, main_seed) if s.team_slugs]
    records_per_hour: dict[dt.datetime, int] = {}
    with psycopg.connect(postgres.url) as conn:
        team_ids = seed_teams(conn, slugs, seeds[0].start - dt.timedelta(days=30))
        for seed in seeds:
            t0 = time.perf_counter()
            cluster_ids = seed_clusters(conn, seed, team_ids, cell.pk)
            per_hour = seed_usage(conn, seed, cluster_ids, pools, tail_hours)
            records_per_hour.update(per_hour)
            conn.commit()
            print(
                f"seeded {seed.period:%Y-%m}: {len(seed.team_slugs):,} teams, "
                f"{len(seed.clusters):,} clusters, {seed.records:,} usage records "
                f"(+{sum(per_hour.values()) - seed.records:,} in the {tail_hours} h after the "
                f"month) in {time.perf_counter() - t0:.1f} s"
            )
        t0 = time.perf_counter()
        markers = seed_rolled_up_hours(
            conn, records_per_hour, seeds[0].start, hour_floor(main_seed.end + grace)
        )
        check_foreign_keys(conn)
        conn.commit()
        conn.autocommit = True
        # Statistics and visibility map, as autovacuum would have left them in production.
        conn.execute("VACUUM ANALYZE")
        print(
            f"{markers:,} rolled-up hour markers, foreign key check, VACUUM ANALYZE: "
            f"{time.perf_counter() - t0:.1f} s"
        )
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('billing_usagerecord'))"
        ).fetchone()[0]
        seeding_backend = conn.info.backend_pid
    # The seeding backend's CPU (COPY, index builds, VACUUM) is added to the server's total when
    # the postmaster reaps it: wait for that, or the baseline close would be charged for it.
    deadline = time.monotonic() + 30
    while Path(f"/proc/{seeding_backend}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    seed_seconds = time.perf_counter() - started
    print(f"seeding total: {seed_seconds:.1f} s (usage records table with indexes: {size})")
    if main_seed.records < MIN_RECORDS and args.teams >= 10_000:
        print(f"note: {main_seed.records:,} records is below the {MIN_RECORDS:,} target")
    if args.seed_only:
        return 0

    # --- baseline close ---
    postmaster = postgres.proc.pid
    baseline = None
    if baseline_seed.team_slugs:
        baseline = timed_close(
            baseline_period, baseline_seed.end + grace, args.batch_size, False, postmaster
        )
        print(
            f"baseline close {baseline_period:%Y-%m} ({len(baseline_seed.team_slugs):,} teams, "
            f"{baseline_seed.records:,} records): {describe(baseline)}; {baseline.result}"
        )

    # --- main close ---
    main = timed_close(period, main_seed.end + grace, args.batch_size, args.profile, postmaster)
    failures = verify(main_seed, main, hours_in_month(period))
    print()
    print(f"month                 {period:%Y-%m} ({hours_in_month(period)} h)")
    print(f"teams                 {args.teams:,}")
    print(f"clusters              {len(main_seed.clusters):,}")
    print(f"usage records         {main_seed.records:,} ({hours} h per cluster × 5 meters)")
    print(f"invoices finalized    {main.result.finalized:,}")
    print(f"lines written         {main.lines:,}")
    print(f"seed seconds          {seed_seconds:.1f}")
    print(f"close seconds         {main.seconds:.2f}  ({describe(main)})")
    print(f"close CPU seconds     {main.total_cpu_seconds:.2f}  (Python + PostgreSQL)")
    print(f"records/s             {main_seed.records / main.seconds:,.0f}")
    print(f"invoices/s            {args.teams / main.seconds:,.0f}")
    if baseline is not None:
        base_teams = len(baseline_seed.team_slugs)
        per_invoice = main.total_cpu_seconds / args.teams * 1000
        base_per_invoice = baseline.total_cpu_seconds / base_teams * 1000
        print(
            f"ratio to baseline     {main.seconds / baseline.seconds:.2f}× wall, "
            f"{main.total_cpu_seconds / baseline.total_cpu_seconds:.2f}× CPU of the "
            f"{base_teams:,}-team close ({baseline.seconds:.2f} s wall, "
            f"{baseline.total_cpu_seconds:.2f} s CPU) for {args.teams / base_teams:.0f}× the teams"
        )
        # Per invoice, on CPU time: a busy host distorts wall time far more.
        print(
            f"CPU per invoice       {per_invoice:.2f} ms at {args.teams:,} teams, "
            f"{base_per_invoice:.2f} ms at {base_teams:,} "
            f"({(per_invoice / base_per_invoice - 1) * 100:+.0f}%; 0% is linear scaling)"
        )
    if args.teams >= 10_000:
        print(f"goal ≤ 60 s           {'met' if main.seconds <= 60 else 'NOT met'}")
    else:
        print("goal ≤ 60 s           (for 10,000 teams; not judged on fewer)")
    # Wall time on a shared 2-core host includes waiting for a CPU: say how busy it was.
    print(f"load average          {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    # --- rerun on the finalized month ---
    from django.db import connection

    with connection.cursor() as cur:
        before = fingerprint(cur, period)
    rerun = timed_close(period, main_seed.end + grace, args.batch_size, False, postmaster)
    with connection.cursor() as cur:
        after = fingerprint(cur, period)
    unchanged = before == after
    print(f"rerun close seconds   {rerun.seconds:.2f}  ({describe(rerun)})")
    print(
        f"rerun result          finalized {rerun.result.finalized}, already final "
        f"{rerun.result.already_final:,}; {before[0]:,} invoices and {before[1]:,} lines "
        f"{'unchanged' if unchanged else 'CHANGED'} (digest {after[2][:12]})"
    )
    check(failures, "rerun changed nothing (invoices and lines digest)", unchanged)
    print()
    for name, ok in failures:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    passed = all(ok for _, ok in failures)
    print(f"{'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


def check(results: list[tuple[str, bool]], name: str, ok: bool) -> None:
    results.append((name, bool(ok)))


def verify(seed: MonthSeed, run: CloseRun, month_hours: int) -> list[tuple[str, bool]]:
    """Every team one finalized invoice, gap-free numbers, subtotals that add up."""
    from django.conf import settings
    from django.db import connection

    results: list[tuple[str, bool]] = []
    teams = len(seed.team_slugs)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT status, COUNT(*) FROM billing_invoice WHERE period = %s GROUP BY status",
            (seed.period,),
        )
        statuses = dict(cur.fetchall())
        check(
            results,
            f"{teams:,} finalized invoices, no other ({statuses})",
            statuses == {"finalized": teams},
        )
        cur.execute(
            "SELECT COUNT(*) FROM billing_invoiceline l JOIN billing_invoice i ON "
            "i.id = l.invoice_id WHERE i.period = %s",
            (seed.period,),
        )
        run.lines = cur.fetchone()[0]
        expected_lines = len(seed.clusters) * len(METERS)
        check(results, f"{expected_lines:,} lines (cluster × meter)", run.lines == expected_lines)

        prefix = f"{settings.SKIFF_INVOICE_NUMBER_PREFIX}-{seed.period.year}-"
        cur.execute("SELECT number FROM billing_invoice WHERE number LIKE %s", (prefix + "%",))
        numbers = sorted(int(n[len(prefix) :]) for (n,) in cur.fetchall())
        check(
            results,
            f"numbers {prefix}… gap-free 1..{teams:,}",
            numbers == list(range(1, teams + 1)),
        )

        # Every subtotal is the exact sum of its line amounts.
        cur.execute(
            """
            SELECT COUNT(*) FROM billing_invoice i
            WHERE i.period = %s AND i.subtotal <> (
                SELECT COALESCE(SUM(amount), 0) FROM billing_invoiceline l
                WHERE l.invoice_id = i.id)
            """,
            (seed.period,),
        )
        check(results, "every subtotal = sum of its line amounts", cur.fetchone()[0] == 0)

        # Every team's subtotal against the independent computation (not timed as the close).
        t0 = time.perf_counter()
        per_team: dict[int, Decimal] = defaultdict(Decimal)
        for (team, *_), (_, amount) in independent_lines(cur, seed, None).items():
            per_team[team] += amount
        cur.execute(
            "SELECT team_id, subtotal FROM billing_invoice WHERE period = %s AND status <> 'void'",
            (seed.period,),
        )
        subtotals = dict(cur.fetchall())
        wrong = [t for t in set(per_team) | set(subtotals) if per_team.get(t) != subtotals.get(t)]
        print(
            f"independent SQL subtotals of all {len(per_team):,} teams: {len(wrong)} differ "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        check(results, "every team's subtotal = independent SQL computation", not wrong)

        # Spot check, line by line, against an independent computation from usage records.
        slug = seed.team_slugs[len(seed.team_slugs) // 2]
        cur.execute(
            "SELECT i.id, i.team_id, i.subtotal FROM billing_invoice i JOIN console_team t ON "
            "t.id = i.team_id WHERE t.slug = %s AND i.period = %s",
            (slug, seed.period),
        )
        invoice_id, team_id, subtotal = cur.fetchone()
        cur.execute(
            "SELECT %s::bigint, cluster_id, meter, unit_price, quantity, amount "
            "FROM billing_invoiceline WHERE invoice_id = %s AND NOT is_adjustment",
            (team_id, invoice_id),
        )
        lines = {(t, c, m, p): (q, a) for t, c, m, p, q, a in cur.fetchall()}
        expected = independent_lines(cur, seed, team_id)
        line_sum = sum((a for _, a in lines.values()), Decimal("0.00"))
        sql_sum = sum((a for _, a in expected.values()), Decimal("0.00"))
        print(
            f"spot check {slug}: subtotal {subtotal}, sum of lines {line_sum}, "
            f"independent SQL {sql_sum} ({len(lines)} lines)"
        )
        for key in sorted(set(lines) | set(expected), key=str):
            if lines.get(key) != expected.get(key):
                print(f"  differs {key}: invoice {lines.get(key)}, SQL {expected.get(key)}")
        check(
            results,
            f"spot check {slug}: subtotal = sum of lines = independent SQL, line by line",
            subtotal == line_sum == sql_sum and lines == expected,
        )
    return results


if __name__ == "__main__":
    raise SystemExit(main())
