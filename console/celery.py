"""The Celery app. Tasks are thin wrappers around services; schedules are declared in code."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs) -> None:
    from console.periodic import beat_schedule

    sender.conf.beat_schedule = beat_schedule()
