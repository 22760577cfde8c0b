"""A console server freezes its startup objects (console/heap.py), so Python's full
collections walk only what came after; a test process never does.

Each check runs in a child Python, as a server starts: freezing this test process would keep
its fixtures from ever being collected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

# What the child prints: objects frozen, objects a full collection still walks, and whether
# kafka-python (which key secrets are set through) was imported before the freeze.
_REPORT = """
import gc, json, sys
import console.asgi  # what `daphne console.asgi:application` and run_console import
frozen = gc.get_freeze_count()
walked = len(gc.get_objects())
print(json.dumps({"frozen": frozen, "walked": walked, "kafka": "kafka.admin" in sys.modules}))
"""


# A Celery worker process: the same, from the worker_process_init signal.
_WORKER_REPORT = """
import gc, json, sys
import django
django.setup()
from console.celery import _preload
_preload()
print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects()),
                  "kafka": "kafka.admin" in sys.modules}))
"""


def _start_server_module(*, freeze: str, script: str = _REPORT) -> dict:
    env = {**os.environ, "SKIFF_FREEZE_STARTUP_HEAP": freeze, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the child failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_asgi_application_freezes_what_the_server_made_while_starting():
    frozen = _start_server_module(freeze="1")
    left_alone = _start_server_module(freeze="0")

    assert left_alone["frozen"] == 0
    # Django, DRF, Channels, the views and kafka-python: well over what is left to walk.
    assert frozen["frozen"] > 10 * frozen["walked"], frozen
    assert frozen["walked"] < left_alone["walked"] / 10, (frozen, left_alone)
    assert frozen["kafka"], "kafka-python was not imported before the freeze"


def test_a_celery_worker_process_freezes_once_kafka_python_is_in():
    frozen = _start_server_module(freeze="1", script=_WORKER_REPORT)
    left_alone = _start_server_module(freeze="0", script=_WORKER_REPORT)

    assert left_alone["frozen"] == 0
    assert frozen["frozen"] > 10 * frozen["walked"], frozen
    assert frozen["kafka"], "kafka-python was not imported before the freeze"


def test_the_test_process_does_not_freeze():
    # tests/plugins/services.py turns it off before Django reads the settings.
    assert settings.SKIFF_FREEZE_STARTUP_HEAP is False
