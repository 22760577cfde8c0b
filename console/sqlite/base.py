"""Django's SQLite backend, with the database file and its folder owner-only.

The file is created 0600 (in a 0700 folder) before SQLite opens it, so no other local user can
read it even for a moment, also when `migrate` creates it. SQLite gives the -wal and -shm files
the database file's mode. An installation made before this is tightened on its next connection.
WAL, the busy timeout and BEGIN IMMEDIATE come from OPTIONS in console/settings.py.
"""

from pathlib import Path

from django.db.backends.sqlite3 import base

from console.owner_only import ensure_private_file


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        name = str(conn_params.get("database", ""))
        if name and name != ":memory:" and not name.startswith("file:"):
            path = Path(name)
            ensure_private_file(path)
            conn = super().get_new_connection(conn_params)
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists() and side.stat().st_mode & 0o077:
                    side.chmod(0o600)
            return conn
        return super().get_new_connection(conn_params)
