"""SQLite's write-ahead log copied into the database file by a background thread, not by a writer.

SQLite checkpoints by itself when a commit takes the log past `wal_autocheckpoint` pages (1,000 by
default): that commit then copies the log into the database file and syncs it before it returns.
Under a stream of spans that was a receiver's commit every second or two, 50-100 ms that its
export request waited (an SDK's queue overflows behind one such wait), with the writers' lock
held. Here the limit is set high enough that commits rarely reach it, and the span folder
checkpoints after its folds, off every request's path and without the writers' lock (a
PASSIVE checkpoint waits for no one). Pages rewritten many times between two checkpoints (the
inbox's, a B-tree's right edge) are copied once, so the copying costs less CPU too.
"""

from __future__ import annotations

import os
import threading
import time

from sqlalchemy.engine import Engine

# Pages (4 KiB each): the log reaches ~40 MiB before a commit checkpoints by itself, which happens
# only when no folder runs (no spans) and other writes are heavy.
AUTOCHECKPOINT_PAGES = 10_000
# Seconds between two checkpoints of a database file; the log grows a few MiB per second at 20,000 spans/s.
EVERY = 2.0


class Checkpoints:
    """`maybe` checkpoints when the file's last checkpoint is `every` seconds old; nothing on other databases.

    The span folder and the scheduler's job each have one; the time of the last checkpoint is the
    file's, shared in this process, so together they checkpoint once per `every`, not twice.
    """

    def __init__(self, engine: Engine, every: float = EVERY) -> None:
        self._engine = engine
        self._every = every
        database = engine.url.database
        sqlite_file = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
        self._last = _last_of(str(database)) if sqlite_file else None

    def maybe(self) -> None:
        last = self._last
        if last is None:
            return
        with last.guard:
            now = time.monotonic()
            if now - last.at < self._every:
                return
            last.at = now
        with self._engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


class _Last:
    """When a database file was last checkpointed (monotonic seconds)."""

    def __init__(self) -> None:
        self.at = time.monotonic()
        self.guard = threading.Lock()


_lasts: dict[str, _Last] = {}
_lasts_guard = threading.Lock()


def _last_of(database: str) -> _Last:
    with _lasts_guard:
        return _lasts.setdefault(os.path.realpath(database), _Last())
