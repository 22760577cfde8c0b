"""Periodic work, declared once in code and run by Celery beat or by the embedded runner.

`PERIODIC_TASKS` is the single schedule: `console.celery` turns it into Celery beat's schedule
(production topology), and `EmbeddedScheduler` — started by `manage.py run_console` when there is
no Redis — runs the same tasks in a background thread of the web process. Features add their
entry here, in this file (apps never import the project package): task name (a Celery task),
interval in seconds, and an expiry so that a backlog never piles up.

This module imports nothing of the project: `console.celery` imports it, not the other way
round. The embedded runner finds the tasks through the Celery app that is current where it is
built: `console.celery.app`, made current when the `console` package is imported. (Celery's
current app is per thread, so it is looked up in the constructor, not in the thread.)
"""

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery, current_app
from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str  # the Celery task's registered name, e.g. "clusters.tasks.sync_topics_task"
    every_seconds: float


PERIODIC_TASKS: list[PeriodicTask] = []
# Access (issue 5): repair ACL/quota drift of every key (clusters.services.access.reconcile).
PERIODIC_TASKS.append(PeriodicTask("clusters.tasks.reconcile_access_task", 60.0))
# Topic sync: topics created, grown or deleted over the Kafka protocol, within a minute.
PERIODIC_TASKS.append(PeriodicTask("clusters.tasks.sync_topics_task", 30.0))
# Lists (issue 20): the topic and consumer-group lists of clusters viewed lately are read here,
# in the background, never in a request (each is read again after SKIFF_LISTS_REFRESH seconds).
PERIODIC_TASKS.append(PeriodicTask("clusters.tasks.refresh_lists_task", 5.0))
# Billing (issue 8): hourly usage records, daily drafts, the month close after its grace period.
PERIODIC_TASKS.append(PeriodicTask("billing.tasks.rollup_usage_task", 600.0))
PERIODIC_TASKS.append(PeriodicTask("billing.tasks.reconcile_usage_task", 86400.0))
PERIODIC_TASKS.append(PeriodicTask("billing.tasks.recompute_drafts_task", 86400.0))
PERIODIC_TASKS.append(PeriodicTask("billing.tasks.close_month_task", 900.0))
# Clients (issue 17): which keys an old librdkafka (< 2.6.1) failed SCRAM with, for the key page.
PERIODIC_TASKS.append(PeriodicTask("fleet.tasks.legacy_scram_scan_task", 60.0))
# Fleet operations (issue 14): resume an operation whose worker stopped heartbeating.
PERIODIC_TASKS.append(PeriodicTask("fleet.tasks.resume_stale_operations_task", 60.0))
# Fleet (issue 14): the autoscaler evaluates every local and compose cell. The interval is
# settings.SKIFF_AUTOSCALE_INTERVAL, read here from the same variable (this module is imported
# before Django's settings are configured).
PERIODIC_TASKS.append(
    PeriodicTask(
        "fleet.tasks.autoscale_task", float(os.environ.get("SKIFF_AUTOSCALE_INTERVAL", "60"))
    )
)


def beat_schedule() -> dict[str, dict]:
    return {
        task.name: {
            "task": task.name,
            "schedule": task.every_seconds,
            # A run that could not start within one period is dropped, not queued behind.
            "options": {"expires": task.every_seconds},
        }
        for task in PERIODIC_TASKS
    }


class EmbeddedScheduler(threading.Thread):
    """Runs PERIODIC_TASKS in-process (eager), each at its interval, until stopped."""

    def __init__(
        self, tasks: list[PeriodicTask] | None = None, tick: float = 0.5, app: Celery | None = None
    ):
        super().__init__(name="skiff-embedded-scheduler", daemon=True)
        self.tasks = list(PERIODIC_TASKS if tasks is None else tasks)
        self.app: Celery = app if app is not None else current_app._get_current_object()
        self.tick = tick
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def tasks_by_name(self) -> dict[str, Any]:
        """Each scheduled task, looked up once. Celery discovers the apps' `tasks` modules
        lazily (a worker triggers it at start); the embedded runner has to ask, or the billing
        tasks, which nothing else imports, would never be found."""
        self.app.loader.import_default_modules()
        return {task.name: self.app.tasks[task.name] for task in self.tasks}

    def run(self) -> None:
        registered = self.tasks_by_name()
        next_run = {task.name: time.monotonic() for task in self.tasks}
        while not self._stop_event.is_set():
            now = time.monotonic()
            for task in self.tasks:
                if now < next_run[task.name]:
                    continue
                next_run[task.name] = now + task.every_seconds
                try:
                    registered[task.name].apply()
                except Exception:  # one failing job must not stop the others
                    logger.exception("periodic task %s failed", task.name)
                finally:
                    close_old_connections()
            self._stop_event.wait(self.tick)
