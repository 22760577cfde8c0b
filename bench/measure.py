"""Small measuring helpers the benchmarks share (import after putting the repo on sys.path)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # no such process any more


def _cpu_ticks(stat: Path) -> int:
    """utime + stime, in clock ticks, of a /proc/…/stat file (a process's or a thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    return _cpu_ticks(Path(f"/proc/{pid}/stat")) / CLK_TCK


def thread_cpu_seconds(pid: int, *name_prefixes: str) -> float:
    """User plus system CPU time so far of a process's threads whose name starts with one of
    `name_prefixes`: a JVM's "C1 CompilerThre" and "C2 CompilerThre" are its JIT. A thread that
    has ended counts no more, so a caller takes the difference of two readings at its own risk
    of a small negative one."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if task.joinpath("comm").read_text().startswith(name_prefixes):
                total += _cpu_ticks(task / "stat")
        except OSError:  # the thread ended meanwhile
            continue
    return total / CLK_TCK
