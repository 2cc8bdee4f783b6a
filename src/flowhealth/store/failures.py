"""State-database errors told as sentences: what happened, without SQL or connection details."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, SQLAlchemyError

SQLITE_LOCKED = (
    "the SQLite state file is locked by another process (another `flowhealth serve`, or a long write) "
    "and stayed locked for 30 s; stop that process or try again"
)


def describe(exc: SQLAlchemyError) -> str:
    """One line about a database error: the driver's own first line, or a sentence for known cases."""
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        return SQLITE_LOCKED
    original = getattr(exc, "orig", None)
    first = str(original if original is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else 'no detail'}"
