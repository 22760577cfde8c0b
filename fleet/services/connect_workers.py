"""Kafka Connect workers of tenant clusters (issue 19): what the clusters app calls.

One worker per tenant cluster with connectors, run by the platform on this host
(fleet/connect/runtime.py), authenticated with a platform-made key of that cluster which the
clusters app makes and passes in. `ensure_connect_worker` is idempotent: it starts the worker
when it does not run and waits (bounded) until its REST API answers, which means it has joined
its group and read its configs. The supervisor (fleet/services/supervisor.py) calls
`restart_crashed_connect_workers` on every check: a worker whose JVM died is started again with
the same spec, and Connect resumes its connectors from `<prefix>connect-offsets`.

Runners: with SKIFF_CONNECT_RUNNER=local (the default) the console starts the JVM itself on its
host and REST listens on 127.0.0.1. With SKIFF_CONNECT_RUNNER=compose (docker-compose.yml) the
workers run in the `connect` container: `ensure_connect_worker` saves the spec in the shared
SKIFF_CONNECT_HOME volume and marks the row STARTING; that container's
`manage.py run_connect_workers` (`run_connect_workers_once`) starts, restarts and stops JVMs so
they match the rows; REST listens on the compose network only, reached as
SKIFF_CONNECT_REST_HOST (`connect`).

Secrets of connector configs never go into the configs: `write_connector_secrets` puts them in
owner-only files of the worker and returns the `${directory:…}` placeholders to use instead.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from console.errors import ServiceUnavailable, ValidationFailed
from fleet import limits
from fleet.connect.client import ConnectClient, ConnectUnavailable
from fleet.connect.runtime import (
    LOCAL_HOST,
    LocalConnectWorker,
    RuntimeUnavailable,
    WorkerError,
    WorkerSpec,
    rss_bytes,
)
from fleet.models import Broker, Cell, ConnectWorker

logger = logging.getLogger(__name__)


def _local_worker(tenant_prefix: str) -> LocalConnectWorker:
    try:
        return LocalConnectWorker(
            Path(settings.SKIFF_CONNECT_HOME),
            tenant_prefix,
            fleet_dir=Path(settings.SKIFF_FLEET_DIR),
        )
    except WorkerError as exc:
        raise ValidationFailed(str(exc), code="invalid_prefix") from exc


def _replication_factor(cell: Cell) -> int:
    brokers = cell.brokers.exclude(state=Broker.State.UNREGISTERED).count()
    return limits.cell_replication_factor(brokers)


def ensure_connect_worker(
    *, cell: Cell, tenant_prefix: str, username: str, password: str
) -> ConnectWorker:
    """The running worker of `tenant_prefix` on `cell`, started if needed (idempotent).

    Waits up to SKIFF_CONNECT_READY_TIMEOUT for its REST API. A worker that cannot start is
    recorded FAILED (the reason in `last_error`) and raises ConnectUnavailable.
    """
    local = _local_worker(tenant_prefix)
    worker, _ = ConnectWorker.objects.get_or_create(
        tenant_prefix=tenant_prefix,
        defaults={"cell": cell, "heap_mb": settings.SKIFF_CONNECT_HEAP_MB},
    )
    if worker.cell_id != cell.pk:
        raise ValidationFailed(
            f"The connector worker of {tenant_prefix} runs on cell '{worker.cell.name}'.",
            code="connect_cell_mismatch",
        )
    compose = _compose_runner()
    compose_port = settings.SKIFF_CONNECT_PORT_BASE + worker.pk
    spec = WorkerSpec(
        tenant_prefix=tenant_prefix,
        bootstrap=cell.bootstrap_servers,
        username=username,
        password=password,
        ca_path=cell.ca_path,
        replication_factor=_replication_factor(cell),
        heap_mb=worker.heap_mb,
        # compose: a port of its own per worker on the `connect` container (never published).
        rest_port=worker.rest_port or (compose_port if compose else 0),
        rest_bind="0.0.0.0" if compose else LOCAL_HOST,  # noqa: S104 (compose network only)
        rest_advertised=settings.SKIFF_CONNECT_REST_HOST,
    )
    if compose:
        return _ensure_by_runner(worker, local, spec)
    with local.lock():
        saved = local.load_spec()
        running = local.pid()
        if running is not None and saved is not None and saved.username != username:
            # A new key (the old one was rotated): the worker must use it from now on.
            local.stop()
            running = None
        if running is None:
            ConnectWorker.objects.filter(pk=worker.pk).update(state=ConnectWorker.State.STARTING)
        try:
            pid = local.start(spec, timeout=settings.SKIFF_CONNECT_READY_TIMEOUT)
        except (WorkerError, RuntimeUnavailable, OSError) as exc:
            ConnectWorker.objects.filter(pk=worker.pk).update(
                state=ConnectWorker.State.FAILED, pid=None, last_error=str(exc)[:4000]
            )
            logger.error("Connect worker of %s did not start: %s", tenant_prefix, exc)
            raise ConnectUnavailable(
                "The connector service of this cluster could not be started; the platform "
                "team has been told.",
                detail=str(exc).splitlines()[0],
            ) from exc
        started = running is None or worker.pid != pid
        saved = local.load_spec()
    assert saved is not None
    worker.rest_port = saved.rest_port
    worker.pid = pid
    worker.state = ConnectWorker.State.RUNNING
    worker.last_error = ""
    worker.last_rss_bytes = rss_bytes(pid)
    if started or worker.started_at is None:
        worker.started_at = timezone.now()
    worker.save()
    return worker


def _compose_runner() -> bool:
    return str(settings.SKIFF_CONNECT_RUNNER) == "compose"


def _ensure_by_runner(
    worker: ConnectWorker, local: LocalConnectWorker, spec: WorkerSpec
) -> ConnectWorker:
    """compose: hand the spec to the `connect` container's runner; wait until it serves."""
    with local.lock():
        saved = local.load_spec()
        local.save_spec(spec)
    changed = saved is None or saved.username != spec.username
    if changed or worker.state != ConnectWorker.State.RUNNING:
        ConnectWorker.objects.filter(pk=worker.pk).update(
            state=ConnectWorker.State.STARTING, rest_port=spec.rest_port
        )
    client = ConnectClient(
        f"http://{settings.SKIFF_CONNECT_REST_HOST}:{spec.rest_port}", timeout=5.0
    )
    deadline = time.monotonic() + settings.SKIFF_CONNECT_READY_TIMEOUT
    while True:
        worker.refresh_from_db()
        if worker.state == ConnectWorker.State.RUNNING:
            try:
                client.health()
                return worker
            except ConnectUnavailable:
                pass
        if worker.state == ConnectWorker.State.FAILED or time.monotonic() >= deadline:
            raise ConnectUnavailable(
                "The connector service of this cluster could not be started; the platform "
                "team has been told.",
                detail=f"{worker.tenant_prefix}: {worker.state} {worker.last_error[:200]}",
            )
        time.sleep(0.5)


def run_connect_workers_once() -> list[str]:
    """The compose runner's pass (`manage.py run_connect_workers` in the `connect` container):
    make the JVMs match the rows. STARTING: (re)start with the saved spec; RUNNING without a
    live JVM: start again; STOPPED with one: stop. Returns the prefixes started."""
    started: list[str] = []
    for worker in ConnectWorker.objects.exclude(state=ConnectWorker.State.FAILED):
        local = _local_worker(worker.tenant_prefix)
        pid = local.pid()
        if worker.state == ConnectWorker.State.STOPPED:
            if pid is not None:
                with local.lock():
                    local.stop()
            continue
        if worker.state == ConnectWorker.State.RUNNING and pid is not None:
            ConnectWorker.objects.filter(pk=worker.pk).update(last_rss_bytes=rss_bytes(pid))
            continue
        try:
            with local.lock():
                if worker.state == ConnectWorker.State.STARTING and pid is not None:
                    local.stop()  # a new spec (e.g. a rotated key)
                pid = local.start(timeout=settings.SKIFF_CONNECT_READY_TIMEOUT)
        except (WorkerError, RuntimeUnavailable, OSError) as exc:
            logger.error("Connect worker of %s did not start: %s", worker.tenant_prefix, exc)
            ConnectWorker.objects.filter(pk=worker.pk).update(
                state=ConnectWorker.State.FAILED, pid=None, last_error=str(exc)[:4000]
            )
            continue
        ConnectWorker.objects.filter(pk=worker.pk).update(
            pid=pid,
            state=ConnectWorker.State.RUNNING,
            started_at=timezone.now(),
            restarts=worker.restarts + (worker.state == ConnectWorker.State.RUNNING),
            last_rss_bytes=rss_bytes(pid),
            last_error="",
        )
        started.append(worker.tenant_prefix)
    return started


def connect_client(*, tenant_prefix: str) -> ConnectClient:
    """The REST client of the running worker of `tenant_prefix` (ConnectUnavailable if none)."""
    worker = ConnectWorker.objects.filter(
        tenant_prefix=tenant_prefix, state=ConnectWorker.State.RUNNING
    ).first()
    if worker is None or not worker.rest_port:
        raise ConnectUnavailable(detail=f"no running Connect worker for {tenant_prefix}")
    return ConnectClient(
        f"http://{settings.SKIFF_CONNECT_REST_HOST}:{worker.rest_port}",
        timeout=settings.SKIFF_CONNECT_TIMEOUT,
    )


def stop_connect_worker(*, tenant_prefix: str) -> None:
    """Stop the worker's JVM; it is not restarted. Its internal topics stay (the clusters app
    deletes them with the cluster), as do its files (secrets are deleted per connector)."""
    local = _local_worker(tenant_prefix)
    if _compose_runner():  # the runner in the `connect` container stops it on its next pass
        ConnectWorker.objects.filter(tenant_prefix=tenant_prefix).update(
            state=ConnectWorker.State.STOPPED, pid=None, last_rss_bytes=None
        )
        return
    with local.lock():
        try:
            local.stop()
        except WorkerError as exc:
            raise ServiceUnavailable(
                "The connector service of this cluster could not be stopped; try again.",
                detail=str(exc),
            ) from exc
    ConnectWorker.objects.filter(tenant_prefix=tenant_prefix).update(
        state=ConnectWorker.State.STOPPED, pid=None, last_rss_bytes=None
    )


def connect_worker_pid(*, tenant_prefix: str) -> int | None:
    """The pid of the worker's JVM as the host sees it now (tests kill it to test supervision)."""
    return _local_worker(tenant_prefix).pid()


def write_connector_secrets(
    *, tenant_prefix: str, connector_name: str, secrets: dict[str, str]
) -> dict[str, str]:
    """Store `secrets` for one connector in owner-only files of its worker.

    Returns, per key, the placeholder to put in the connector's config instead of the value
    (`${directory:<dir>:<key>}`); the worker resolves it when it starts the connector.
    """
    try:
        return _local_worker(tenant_prefix).write_secrets(connector_name, secrets)
    except WorkerError as exc:
        raise ValidationFailed(str(exc), code="invalid_secret") from exc


def delete_connector_secrets(*, tenant_prefix: str, connector_name: str) -> None:
    try:
        _local_worker(tenant_prefix).delete_secrets(connector_name)
    except WorkerError as exc:
        raise ValidationFailed(str(exc), code="invalid_secret") from exc


def restart_crashed_connect_workers() -> list[str]:
    """The supervisor's Connect step: start again every worker whose row says it runs but whose
    JVM is gone (killed, out of memory, a failed restart, the host rebooted); workers stopped on
    purpose are STOPPED and left alone. Refreshes the memory figure of the others. Returns the
    prefixes restarted."""
    restarted: list[str] = []
    workers = ConnectWorker.objects.filter(
        state__in=[ConnectWorker.State.RUNNING, ConnectWorker.State.STARTING]
    )
    for worker in workers:
        local = _local_worker(worker.tenant_prefix)
        pid = local.pid()
        if pid is not None:
            ConnectWorker.objects.filter(pk=worker.pk).update(last_rss_bytes=rss_bytes(pid))
            continue
        logger.warning("Connect worker of %s is not running; starting it", worker.tenant_prefix)
        try:
            with local.lock():  # an ensure_connect_worker starting it holds the lock meanwhile
                if local.pid() is not None:  # started meanwhile
                    continue
                worker.refresh_from_db()
                if worker.state == ConnectWorker.State.STOPPED:  # stopped meanwhile
                    continue
                pid = local.start(timeout=settings.SKIFF_CONNECT_READY_TIMEOUT)
                spec = local.load_spec()
        except (WorkerError, RuntimeUnavailable, OSError) as exc:
            logger.error(
                "restarting the Connect worker of %s failed: %s", worker.tenant_prefix, exc
            )
            ConnectWorker.objects.filter(pk=worker.pk).update(pid=None, last_error=str(exc)[:4000])
            continue
        ConnectWorker.objects.filter(pk=worker.pk).update(
            pid=pid,
            rest_port=spec.rest_port if spec else worker.rest_port,
            state=ConnectWorker.State.RUNNING,
            started_at=timezone.now(),
            restarts=worker.restarts + 1,
            last_rss_bytes=rss_bytes(pid),
            last_error="",
        )
        logger.warning("Connect worker of %s restarted (pid %s)", worker.tenant_prefix, pid)
        restarted.append(worker.tenant_prefix)
    return restarted
