"""The embedded scheduler (make run) finds every scheduled task, including the billing ones that
nothing else imports: a name it cannot find would never run (seen: usage was never rolled up)."""

from console.celery import app
from console.periodic import PERIODIC_TASKS, EmbeddedScheduler, beat_schedule


def test_the_embedded_scheduler_finds_every_scheduled_task():
    scheduler = EmbeddedScheduler(app=app)
    found = scheduler.tasks_by_name()
    assert set(found) == {task.name for task in PERIODIC_TASKS}
    assert {name.split(".")[0] for name in found} == {"clusters", "billing", "fleet"}


def test_beat_runs_the_same_schedule_with_an_expiry():
    schedule = beat_schedule()
    assert set(schedule) == {task.name for task in PERIODIC_TASKS}
    assert all(entry["options"]["expires"] == entry["schedule"] for entry in schedule.values())
