"""INSERT ... ON CONFLICT DO UPDATE for the state databases we support (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection


def dialect_insert(dialect: str) -> Any:
    """The `insert` construct of the dialect's ON CONFLICT support, PostgreSQL's or SQLite's.

    Imported when first asked for: importing SQLAlchemy's PostgreSQL dialect loads all of its
    drivers' modules (asyncpg, psycopg, pg8000), which every command on SQLite paid for nothing.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def replacing_insert(table: str, keys: Sequence[str], values: Sequence[str], mark: str) -> str:
    """Driver-level SQL inserting `keys` then `values`; a row whose keys exist already gets the new values.

    For executemany on a hot path: SQLite and PostgreSQL share the syntax, and the statement is a
    string, not a construct SQLAlchemy builds and compiles on every call. `mark` is the driver's
    placeholder (`store.placeholders.marker`).
    """
    columns = ", ".join((*keys, *values))
    marks = ", ".join([mark] * (len(keys) + len(values)))
    replaced = ", ".join(f"{column} = excluded.{column}" for column in values)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {replaced}"


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Mapping[str, Any] | None = None,
) -> None:
    """Insert rows; on a key conflict set `update` (default: every non-key column to the new value)."""
    if not rows:
        return
    stmt = dialect_insert(conn.dialect.name)(table)
    changes = dict(update) if update is not None else {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes), list(rows))
