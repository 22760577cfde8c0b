"""Start-up time and memory of a fresh local cell: 3 nodes, with 1 node as the baseline.

    .venv/bin/python bench/fleet_startup.py [--heap-mb 256] [--full-jit]

Each cell is created in its own temp dir (formatting included in "ready"), measured, stopped
and deleted. Ready = every broker registered (seen by the admin over SASL_SSL) and every
metrics endpoint answering, i.e. what LocalCell.up() waits for. CPU is the JVMs' user+system
time until ready (from /proc/<pid>/stat), which a busy host distorts far less than wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from fleet.runtime.classpath import ensure_classpath  # noqa: E402
from fleet.runtime.launcher import LocalCell  # noqa: E402


@dataclass
class Measurement:
    nodes: int
    ready_s: float
    rss_mb: list[float]
    cpu_s: list[float]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(nodes: int, heap_mb: int, fast_start: bool) -> Measurement:
    state_dir = Path(tempfile.mkdtemp(prefix=f"skiff-bench-{nodes}n-"))
    cell = LocalCell(state_dir, name=f"bench{nodes}")
    try:
        started = time.monotonic()
        info = cell.up(nodes=nodes, heap_mb=heap_mb, timeout=300, fast_start=fast_start)
        ready = time.monotonic() - started
        pids = [n.pid for n in info.nodes if n.pid is not None]
        return Measurement(
            nodes=nodes,
            ready_s=ready,
            rss_mb=[_rss_mb(p) for p in pids],
            cpu_s=[_cpu_s(p) for p in pids],
        )
    finally:
        cell.down()
        shutil.rmtree(state_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heap-mb", type=int, default=256)
    parser.add_argument("--full-jit", action="store_true")
    args = parser.parse_args()
    ensure_classpath()  # resolve jars before timing anything

    print(
        f"host: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; heap {args.heap_mb} MiB; "
        f"JIT {'tiered' if args.full_jit else 'C1 only (fast start)'}"
    )
    results = {}
    for nodes in (1, 3):  # baseline first, in the same run
        m = measure(nodes, args.heap_mb, not args.full_jit)
        results[nodes] = m
        rss = ", ".join(f"{r:.0f}" for r in m.rss_mb)
        cpu = ", ".join(f"{c:.1f}" for c in m.cpu_s)
        print(
            f"{nodes}-node cell: ready in {m.ready_s:.1f} s; RSS per broker MiB [{rss}] "
            f"(total {sum(m.rss_mb):.0f}); CPU to ready s [{cpu}]; "
            f"load now {os.getloadavg()[0]:.1f}"
        )
    one, three = results[1], results[3]
    print(
        f"ratio 3-node / 1-node: ready time x{three.ready_s / one.ready_s:.2f}, "
        f"RSS per broker x{(sum(three.rss_mb) / 3) / one.rss_mb[0]:.2f}, "
        f"total RSS x{sum(three.rss_mb) / sum(one.rss_mb):.2f}, "
        f"total CPU x{sum(three.cpu_s) / sum(one.cpu_s):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
