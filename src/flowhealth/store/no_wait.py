"""A connection to the SQLite state file whose writes never wait: one that cannot start fails at once.

The OTLP receiver stores a small request's inbox row on the event loop when it can (see
`api/otlp.py`): handing each request to a worker thread and back cost about as much CPU as
the parse-only receiver spends on the whole request. Waiting on the event loop would stall every
request of the process, so this connection takes the writers' lock (`sqlite_writers`) only when
it is free, and SQLite's busy timeout is 0 for another process's writer. Its caller then stores
the row on a worker thread, which waits as every other writer does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from .checkpoints import AUTOCHECKPOINT_PAGES
from .sqlite_writers import SerializedWriters


class NoWaitWriters(SerializedWriters):
    """The writers' lock taken only when nobody holds it: `take` raises OperationalError otherwise."""

    lock_timeout = 0.0


def connect(engine: Engine) -> sqlite3.Connection | None:
    """A connection of its own on the engine's SQLite file; None for PostgreSQL and in-memory databases.

    PostgreSQL is left out on purpose: its writes go over the network, which no event loop waits on.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    conn = sqlite3.connect(database, timeout=0, check_same_thread=False, factory=NoWaitWriters)
    # The state engine's settings (store/db.py), except the busy timeout: none, so no sleep and retry.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    return conn


class Writer:
    """The event loop's connection to the state file: opened at first use, held by one thread at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: sqlite3.Connection | None = None
        self._opened = False  # a database without one (PostgreSQL) is not asked again
        self._guard = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection | None]:
        """The connection; None on PostgreSQL, after `close`, or while another thread uses it."""
        if not self._guard.acquire(blocking=False):
            yield None
            return
        try:
            if not self._opened:
                self._opened = True
                try:
                    self._conn = connect(self._engine)
                except sqlite3.Error:
                    self._conn = None  # the pooled path reports what is wrong with the file
            yield self._conn
        finally:
            self._guard.release()

    def close(self) -> None:
        with self._guard:
            self._opened = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
