"""The Celery app. Tasks are thin wrappers around services; schedules are declared in code.

Imports go one way: this module reads the schedule from `console.periodic`, which never
imports this module back (its embedded runner looks the app up through Celery).
"""

import os

from celery import Celery
from celery.signals import worker_process_init

from console.periodic import beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs) -> None:
    sender.conf.beat_schedule = beat_schedule()


@worker_process_init.connect
def _preload(**kwargs) -> None:
    # Each worker process provisions clusters through kafka-python: import it before the
    # first task rather than in it.
    from django.conf import settings

    from fleet.kafka.connection import preload_kafka_python

    if settings.SKIFF_FREEZE_STARTUP_HEAP:
        from console.heap import freeze_startup_heap

        freeze_startup_heap()  # imports it first, then freezes (console/heap.py)
    else:
        preload_kafka_python()
