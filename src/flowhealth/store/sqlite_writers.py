"""One write transaction at a time per SQLite file in this process, handed over without polling.

SQLite allows one writer per database file. A connection that finds the file locked waits in
SQLite's busy handler, which sleeps and retries with growing pauses (up to 100 ms each). Under a
steady stream of short writes (trace ingestion, probe results) a waiter keeps sleeping through
the short gaps between them: in the 30-minute soak the evaluation cycle waited up to 1.5 s for a
lock that was never held for more than a few tens of milliseconds at a time.

flowhealth's writers share one process, so they queue on a lock of their own instead, served in
arrival order: a connection takes it right before the statement that opens its write transaction (the point where
Python's sqlite3 module issues its implicit BEGIN) and gives it back when the transaction ends.
A waiter wakes the moment the lock is released. Other processes on the same file (a CLI command
next to the service) still meet SQLite's own locking and busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import deque
from typing import Any

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class HandOverLock:
    """A lock passed on in arrival order: a writer that releases and at once writes again queues
    behind those already waiting, so a steady stream of writes cannot starve an occasional one."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():
                return True  # handed over just as the wait timed out
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # the lock stays held: it now belongs to the next in line
            else:
                self._held = False


_locks: dict[str, HandOverLock] = {}
_locks_guard = threading.Lock()


def writer_lock(database: str) -> HandOverLock:
    """The lock of one database file, shared by every engine of this process on that file."""
    with _locks_guard:
        return _locks.setdefault(os.path.realpath(database), HandOverLock())


def _opens_write(sql: str) -> bool:
    return sql.lstrip().upper().startswith(_WRITES)


class _Cursor(sqlite3.Cursor):
    connection: SerializedWriters

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        with self.connection.writing(sql):
            return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        with self.connection.writing(sql):
            return super().executemany(sql, seq_of_parameters)


class SerializedWriters(sqlite3.Connection):
    """A sqlite3 connection whose write transactions queue on the file's in-process lock.

    Passed as `factory` to `sqlite3.connect` (SQLAlchemy's `connect_args`); `lock_timeout`
    matches the busy timeout, after which the writer fails as SQLite itself would.
    """

    lock: HandOverLock
    lock_timeout: float = 30.0

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.lock = writer_lock(str(database))
        self._holds = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.cursor()
        return cursor.executemany(sql, seq_of_parameters)

    def writing(self, sql: str) -> _Writing:
        return _Writing(self, not self.in_transaction and not self._holds and _opens_write(sql))

    def take(self) -> None:
        if not self.lock.acquire(self.lock_timeout):
            raise sqlite3.OperationalError("database is locked (another writer of this process held it too long)")
        self._holds = True

    def give_back(self) -> None:
        """Release the lock once no transaction is open any more (commit, rollback, or SQLite's own rollback)."""
        if self._holds and not self.in_transaction:
            self._holds = False
            self.lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holds:
                self._holds = False
                self.lock.release()


class _Writing:
    """Around one statement: take the lock if it opens a write transaction; let go if none stayed open."""

    def __init__(self, connection: SerializedWriters, opens: bool) -> None:
        self._connection = connection
        self._opens = opens

    def __enter__(self) -> None:
        if self._opens:
            self._connection.take()

    def __exit__(self, *_: object) -> None:
        self._connection.give_back()
