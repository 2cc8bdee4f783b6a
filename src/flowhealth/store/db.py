"""Engine creation and schema set-up for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, create_engine

from ..errors import ConfigError, StoreError
from . import journey_tables as _journey_tables  # noqa: F401  - registers the tables with SQLModel.metadata
from . import mapping_tables as _mapping_tables  # noqa: F401
from . import records as _records  # noqa: F401  - registers the tables with SQLModel.metadata
from . import replica_tables as _replica_tables  # noqa: F401  - registers the tables with SQLModel.metadata
from . import tables as _tables  # noqa: F401
from .checkpoints import AUTOCHECKPOINT_PAGES
from .failures import describe
from .migrate import upgrade
from .sqlite_writers import SerializedWriters


def make_engine(url: str) -> Engine:
    """Create the state engine; SQLite gets WAL and a busy timeout so threads can share it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "FLOWHEALTH_DATABASE_URL is not a database URL (expected e.g. sqlite:///path/to/file.db)"
        ) from None
    except ValueError:
        # SQLAlchemy reads the port with int(): `h:notaport` fails there, and the URL holds a password.
        raise ConfigError("FLOWHEALTH_DATABASE_URL has a port that is not a number") from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if database := serialized_file(parsed):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Writers of this process queue on a lock of their own instead of SQLite's sleep-and-retry.
            kwargs["connect_args"]["factory"] = SerializedWriters
    elif parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(parsed, **kwargs)
    except (SQLAlchemyError, ImportError) as exc:
        hint = " (pip install 'flowhealth[postgres]')" if "psycopg" in str(exc) else ""
        raise ConfigError(f"cannot use database {parsed.render_as_string()}: {exc}{hint}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    return engine


def serialized_file(url: URL) -> str | None:
    """The SQLite file of `url` whose writers this process queues on its own lock; None for other databases.

    In-memory databases and `file:` URIs are left to SQLite's own locking.
    """
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database


def sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    """The settings of every connection to a SQLite state database (SQLAlchemy's `connect` event)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoints are the folder's work (see checkpoints.py); a commit does one only past this many pages.
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.close()


def init_schema(engine: Engine) -> None:
    """Migrate the state database to the schema this code declares (see store.migrate); rows are kept."""
    upgrade(engine)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together, or not at all."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreError(f"state database error: {describe(exc)}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
