"""The embedded database's connections are kept between requests (console/sqlite/base.py):
a thread that connects after another closed gets that connection back, unless it was closed
inside a transaction or the pool is full; a forked child never uses its parent's."""

from __future__ import annotations

import os
import sqlite3

import pytest
from django.db.utils import ConnectionHandler

from console.sqlite import base as sqlite_base


@pytest.fixture
def handler(tmp_path, django_db_blocker):
    """A database of its own (not the test database), which pytest-django lets it open."""
    sqlite_base.close_idle_connections()
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "console.sqlite",
                "NAME": str(tmp_path / "var" / "kept.sqlite3"),
                "OPTIONS": {
                    "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL;",
                },
            }
        }
    )
    with django_db_blocker.unblock():
        yield handler
        handler.close_all()
    sqlite_base.close_idle_connections()


def test_a_closed_connection_is_handed_to_the_next_connect(handler, tmp_path):
    wrapper = handler["default"]
    wrapper.ensure_connection()
    first = wrapper.connection
    with wrapper.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
    wrapper.close()
    assert wrapper.connection is None
    first.execute("SELECT 1")  # still open: kept, not closed

    wrapper.ensure_connection()
    assert wrapper.connection is first
    with wrapper.cursor() as cursor:  # autocommit, as Django sets on every connect
        cursor.execute("INSERT INTO t VALUES (1)")
    assert not first.in_transaction
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700  # checked on first connect


def test_a_connection_closed_inside_a_transaction_is_closed_for_real(handler):
    wrapper = handler["default"]
    wrapper.ensure_connection()
    raw = wrapper.connection
    raw.execute("CREATE TABLE t (x INTEGER)")
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO t VALUES (1)")
    wrapper.close()
    with pytest.raises(sqlite3.ProgrammingError):
        raw.execute("SELECT 1")
    wrapper.ensure_connection()
    assert wrapper.connection is not raw
    assert wrapper.connection.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_the_pool_keeps_at_most_its_size_and_closes_the_rest(monkeypatch, tmp_path):
    pool = sqlite_base._IdleConnections(size=1)
    one, two = (sqlite3.connect(tmp_path / f"{n}.sqlite3") for n in ("a", "b"))
    assert pool.give("db", one) is True
    assert pool.give("db", two) is False  # the caller closes it
    assert pool.take("db") is one
    assert pool.take("db") is None
    assert pool.take("other") is None

    assert pool.give("db", one) is True
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a forked child
    assert pool.take("db") is None  # the parent's connection is never used there
