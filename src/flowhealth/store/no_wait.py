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

from .db import serialized_file, sqlite_pragmas
from .sqlite_writers import SerializedWriters


class NoWaitWriters(SerializedWriters):
    """The writers' lock taken only when nobody holds it: `take` raises OperationalError otherwise."""

    lock_timeout = 0.0


def connect(engine: Engine) -> sqlite3.Connection | None:
    """A connection of its own on the engine's SQLite file; None for PostgreSQL, in-memory databases and `file:` URIs.

    PostgreSQL is left out on purpose: its writes go over the network, which no event loop waits on.
    """
    # Only a file whose writers share the in-process lock: that lock is what this connection tries.
    database = serialized_file(engine.url)
    if database is None:
        return None
    conn = sqlite3.connect(database, timeout=0, check_same_thread=False, factory=NoWaitWriters)
    try:
        sqlite_pragmas(conn)
        conn.execute("PRAGMA busy_timeout=0")  # the engine's settings but this: no sleep and retry
    except sqlite3.Error:
        conn.close()
        raise
    return conn


class Writer:
    """The event loop's connection to the state file: opened at first use, held by one thread at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: sqlite3.Connection | None = None
        self._opened = False  # once connected, or told there is no such connection (PostgreSQL)
        self._guard = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection | None]:
        """The connection; None on PostgreSQL, after `close`, or while another thread uses it."""
        if not self._guard.acquire(blocking=False):
            yield None
            return
        try:
            if not self._opened:
                try:
                    self._conn = connect(self._engine)
                    self._opened = True
                except sqlite3.Error:
                    pass  # tried again next time; meanwhile the pooled path reports what is wrong
            yield self._conn
        finally:
            self._guard.release()

    def close(self) -> None:
        with self._guard:
            self._opened = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
