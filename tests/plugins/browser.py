"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real app.

Fixtures:

* ``live_app`` — the ASGI app (``console.asgi:application``) served by Daphne in a
  subprocess, against the same test database as the test (``test_skiff``), with static
  files and WebSockets. Session-scoped server; the function-scoped fixture pulls in
  ``transactional_db`` so that what a test writes is committed and visible to the server.
  ``live_app.url`` / ``live_app.ws_url``.
* ``browser`` — one headless Chromium per session (``/usr/bin/chromium``, or
  ``SKIFF_CHROMIUM``). ``playwright install`` is never run: Debian's package is the browser.
  Playwright gives it a fresh temporary profile (user-data-dir) on every launch.
* ``context`` / ``page`` — a fresh context and page per test, ``base_url`` set to the live
  app, so ``page.goto("/login/")`` works.

On a failed test the page's URL, its console errors, a screenshot path and the live
server's log tail are added to the report.

Playwright's sync API marks its asyncio loop as *running* in the main thread between calls
for as long as it is started. Django then takes the test for async code, and asgiref's
``async_to_sync`` refuses to run ("You cannot use AsyncToSync in the same thread as an
async event loop"). So:

* tests that use a browser fixture run with ``DJANGO_ALLOW_ASYNC_UNSAFE=true`` (their ORM
  calls are sync code in fact); all other tests keep Django's async-safety checks, and so
  does the live app server;
* the session-wide browser does not leak into other tests: the loop is hidden for every
  test that uses none of the browser fixtures;
* inside a browser test, wrap in-process code that calls ``async_to_sync`` (e.g. a channel
  layer ``group_send``) in ``with outside_playwright_loop():`` — no Playwright calls inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests.plugins.services import TIMINGS, _die_with_parent, log_tail, stop_process

ROOT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SKIFF_CHROMIUM", "/usr/bin/chromium")
LIVE_SERVER_TIMEOUT = 60.0
DEFAULT_TIMEOUT_MS = 15_000
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--no-default-browser-check",
    "--password-store=basic",
    "--use-mock-keychain",
]
ARTIFACTS_DIR = Path(os.environ.get("SKIFF_TEST_ARTIFACTS", ROOT_DIR / "var" / "test-artifacts"))

BROWSER_FIXTURES = frozenset({"playwright", "browser", "context", "page"})

_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()
# The event loop of the session's Playwright while it is started (see the module docstring).
_playwright_loop: asyncio.AbstractEventLoop | None = None


@contextlib.contextmanager
def outside_playwright_loop():
    """Hide Playwright's "running" loop for a block without Playwright calls.

    For in-process code that uses ``async_to_sync`` inside a browser test.
    """
    hidden = asyncio._get_running_loop()
    if hidden is None or hidden is not _playwright_loop:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        if _playwright_loop is hidden and asyncio._get_running_loop() is None:
            asyncio._set_running_loop(hidden)


@contextlib.contextmanager
def _allow_async_unsafe():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    if BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        with _allow_async_unsafe():
            return (yield)
    with outside_playwright_loop():
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_reports_key, {})
    return any(r.failed for r in reports.values())


# --- the live app --------------------------------------------------------------------------


@dataclass
class LiveApp:
    url: str
    ws_url: str
    proc: subprocess.Popen
    logfile: Path
    database: str

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.logfile, lines)

    def __str__(self) -> str:
        return self.url


def _test_database_url(test_db_name: str) -> str:
    """DATABASE_URL with its database replaced by pytest-django's test database."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + quote(test_db_name, safe="")))


@pytest.fixture(scope="session")
def live_app_server(django_db_setup, tmp_path_factory) -> LiveApp:
    """Daphne serving console.asgi:application in a subprocess, for the whole session."""
    from django.db import connection

    test_db = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql":
        pytest.fail(f"live_app needs the PostgreSQL test database, not {connection.vendor}")

    workdir = tmp_path_factory.mktemp("live_app")
    port_file = workdir / "port"
    logfile = workdir / "daphne.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(test_db),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "console.settings"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT_DIR), os.environ.get("PYTHONPATH")])),
    }
    # Browser tests need it for Playwright's event loop; the server must keep Django's
    # async-safety checks, so that a view or consumer that blocks the loop fails.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    started = time.monotonic()
    with open(logfile, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.plugins.live_server", "--port-file", str(port_file)],
            cwd=str(ROOT_DIR),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(signal.SIGTERM),
        )
    try:
        deadline = time.monotonic() + LIVE_SERVER_TIMEOUT
        while not port_file.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"live app server (daphne) exited with code {proc.returncode} before "
                    f"listening; log {logfile}:\n{log_tail(logfile)}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"live app server (daphne) did not listen within {LIVE_SERVER_TIMEOUT:.0f}s; "
                    f"log {logfile}:\n{log_tail(logfile)}",
                    pytrace=False,
                )
            time.sleep(0.05)
        port = int(port_file.read_text())
        app = LiveApp(
            url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}",
            proc=proc,
            logfile=logfile,
            database=test_db,
        )
        TIMINGS["live app (daphne)"] = time.monotonic() - started
        yield app
    finally:
        stop_process(proc, signal.SIGTERM)


@pytest.fixture
def live_app(live_app_server: LiveApp, transactional_db) -> LiveApp:
    """The live app, with the test's database writes committed (transactional_db)."""
    if live_app_server.proc.poll() is not None:
        pytest.fail(
            f"live app server died (exit {live_app_server.proc.returncode}); log "
            f"{live_app_server.logfile}:\n{live_app_server.log_tail()}",
            pytrace=False,
        )
    return live_app_server


# --- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright

    global _playwright_loop
    pw = sync_playwright().start()
    _playwright_loop = asyncio._get_running_loop()
    try:
        yield pw
    finally:
        # Torn down at the end of the session, possibly within a test that hid the loop.
        if _playwright_loop is not None and asyncio._get_running_loop() is None:
            asyncio._set_running_loop(_playwright_loop)
        _playwright_loop = None
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `bash scripts/install-test-deps.sh` as root "
            "(installs Debian's 'chromium'), or set SKIFF_CHROMIUM.",
            pytrace=False,
        )
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    started = time.monotonic()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=args,
        chromium_sandbox=False,
        timeout=60_000,
    )
    TIMINGS["chromium launch"] = time.monotonic() - started
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def context(browser, live_app: LiveApp, request: pytest.FixtureRequest):
    context = browser.new_context(
        base_url=live_app.url,
        locale="en-US",
        timezone_id="UTC",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(2 * DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context, live_app: LiveApp, request: pytest.FixtureRequest):
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console.{msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield page
    if _failed(request):
        lines = [f"page URL: {page.url}"]
        try:
            ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS_DIR / (re.sub(r"[^\w.-]+", "_", request.node.nodeid) + ".png")
            page.screenshot(path=str(shot), full_page=True)
            lines.append(f"screenshot: {shot}")
        except Exception as exc:  # the report must not fail on this
            lines.append(f"screenshot failed: {exc}")
        lines += problems or ["(no console errors)"]
        lines += ["live app log (tail):", live_app.log_tail(30)]
        request.node.add_report_section("teardown", "browser", "\n".join(lines))
