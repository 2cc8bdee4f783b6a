"""One `flowhealth serve` per SQLite state file: a second one refuses to start instead of competing.

SQLite has one writer at a time and flowhealth's single-process design (one evaluator, one
outbox worker) counts on it. Replicas need PostgreSQL. The guard is an advisory file lock
beside the database, held for the life of the process; the kernel releases it when the process
ends, even by `kill -9`, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from ..errors import ConfigError


class ServeLock:
    """Holds `<database>.serve.lock` until `release` or process exit."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def release(self) -> None:
        self._handle.close()


def hold_sqlite_file(database_url: str) -> ServeLock | None:
    """Lock the SQLite file for this process; None for PostgreSQL or in-memory databases."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(f"{Path(database).resolve()}.serve.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise ConfigError(
            f"another flowhealth serve (pid {holder}) already uses the SQLite state file {database}; "
            "stop it first, or use PostgreSQL (FLOWHEALTH_DATABASE_URL) to run several replicas"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return ServeLock(handle)
