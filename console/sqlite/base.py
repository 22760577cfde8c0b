"""Django's SQLite backend, with the database file and its folder owner-only, and connections
kept open between requests.

The file is created 0600 (in a 0700 folder) before SQLite opens it, so no other local user can
read it even for a moment, also when `migrate` creates it. SQLite gives the -wal and -shm files
the database file's mode. An installation made before this is tightened on its next connection.
WAL, the busy timeout and BEGIN IMMEDIATE come from OPTIONS in console/settings.py.

Django closes a request's connection at its end and opens a new one for the next (every
request under Django's own ASGI handler ran in a thread of its own; console/http_handler.py now
reuses threads, and the task pool's threads come and go with their tasks). Opening one costs
about 2 ms of CPU here (the file checks, SQLite reading the schema of ~160 tables and indexes,
Django's functions and pragmas), more than most of a request's queries, and 20 creates at once
made about 100 (issue 20). A connection Django closes outside a transaction is therefore kept
(`_IdleConnections`) and handed to the next thread that connects to the same database.
Nothing of a request survives in it: SQLite keeps no per-session state here but the pragmas
and functions every connection gets alike, Django sets autocommit again on every connect, and
one still in a transaction is closed for real.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from django.db.backends.sqlite3 import base

from console.owner_only import ensure_private_file

# Idle connections kept per database: more threads than this rarely connect at once in the
# embedded server (its task pool, the sampler and the requests in flight).
IDLE_CONNECTIONS = 16


class _IdleConnections:
    """Open connections no thread uses, per database file (its path and connection params)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._idle: dict[str, list[sqlite3.Connection]] = {}
        self._pid = os.getpid()

    def take(self, key: str) -> sqlite3.Connection | None:
        with self._lock:
            self._forget_if_forked()
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, key: str, conn: sqlite3.Connection) -> bool:
        """Keep `conn` for the next thread; False if it must be closed (the pool is full)."""
        with self._lock:
            self._forget_if_forked()
            idle = self._idle.setdefault(key, [])
            if len(idle) >= self._size:
                return False
            idle.append(conn)
            return True

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _forget_if_forked(self) -> None:
        # A forked child (a Celery prefork worker) must not share its parent's connections:
        # it leaves them alone, never closing or using them, and opens its own.
        if os.getpid() != self._pid:
            self._idle = {}
            self._pid = os.getpid()


_idle_connections = _IdleConnections(IDLE_CONNECTIONS)


def close_idle_connections() -> None:
    """Close every kept connection (tests that remove a database file; shutdown)."""
    _idle_connections.clear()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        name = str(conn_params.get("database", ""))
        if name and name != ":memory:" and not name.startswith("file:"):
            key = f"{name}\0{sorted(conn_params.items())!r}"
            kept = _idle_connections.take(key)
            if kept is not None:
                self._idle_key = key
                return kept
            path = Path(name)
            ensure_private_file(path)
            conn = super().get_new_connection(conn_params)
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists() and side.stat().st_mode & 0o077:
                    side.chmod(0o600)
            self._idle_key = key
            return conn
        self._idle_key = None
        return super().get_new_connection(conn_params)

    def _close(self):
        conn, key = self.connection, getattr(self, "_idle_key", None)
        if (
            conn is not None
            and key is not None
            and not conn.in_transaction
            and _idle_connections.give(key, conn)
        ):
            return
        super()._close()
