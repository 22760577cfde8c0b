"""Task bodies off the request thread in the embedded server (`manage.py run_console`).

Without Redis there is no Celery worker: tasks are eager, so `task.delay()` runs the task's
body where it is called, and a create would answer only once its cluster was provisioned
(credentials, ACLs and quotas on the cell).

`run_console` starts a small pool here; `enqueue` then hands the task to it and the request
answers at once, as it does in production, where a Celery worker does the work (the cluster is
CREATING and its page follows its progress). Elsewhere (tests, management commands, the
production web process) nothing is started and `enqueue` is `task.delay`.

Requests do not queue behind one another either way: Django's ASGI handler runs each
request's synchronous code in a thread of its own (asgiref's ThreadSensitiveContext per
request), measured as 20 creates at once served by 20 threads (issue 20, goal 4;
tests/console/test_asgi_requests_in_parallel.py). What 20 creates at once do share on SQLite
is the one write lock, so a create's transaction holds it only for its writes
(clusters.services.clusters.cluster_create).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def start(*, workers: int) -> None:
    """Run enqueued tasks in `workers` threads of this process from now on."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="skiff-task")


def stop(*, wait: bool = True) -> None:
    """Back to `task.delay`; with `wait`, after the tasks already queued have run."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=wait)


def running() -> bool:
    return _pool is not None


def enqueue(task: Any, *args: Any) -> None:
    """Queue a Celery task: on the embedded pool when there is one, else `task.delay(*args)`.

    Call it after the transaction that made the work visible has committed
    (`transaction.on_commit`): the task reads its rows from the database.
    """
    pool = _pool
    if pool is None:
        task.delay(*args)
        return

    def run() -> None:
        try:
            task.apply(args=args)
        except Exception:  # the task records its own outcome; the pool thread must go on
            logger.exception("background task %s%r failed", task.name, args)
        finally:
            connection.close()  # this thread's own database connection

    pool.submit(run)
