"""The embedded database backend (`make run`'s default): Django's SQLite, owner-only on disk."""
