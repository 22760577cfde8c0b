"""Run a command while busy processes keep every core loaded (`make test-stress`).

    python scripts/cpu_hog.py [--workers N] -- COMMAND [ARGS...]

Starts N spinning Python processes (default: one per core), runs COMMAND, stops them (by their
own process ids) and exits with COMMAND's status. Each hog also stops by itself once this
script is gone, so none outlives an interrupted run. What a loaded CI machine looks like to
the suite: brokers, the live server and the tests all get a share of the cores, never all.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

SPIN = """
import os, time
parent = os.getppid()
while os.getppid() == parent:
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        pass
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    hogs = [
        subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL)
        for _ in range(max(1, args.workers))
    ]
    print(f"cpu_hog: {len(hogs)} busy processes ({', '.join(str(h.pid) for h in hogs)})")
    started = time.monotonic()
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130
    finally:
        for hog in hogs:
            hog.send_signal(signal.SIGTERM)
        for hog in hogs:
            try:
                hog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                hog.kill()
        print(f"cpu_hog: stopped after {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
