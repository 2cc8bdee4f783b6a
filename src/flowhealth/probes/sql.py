"""The sql probe: a read-only query with a timeout, one number or one sample per row."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import ProbeError, ProbeInvalid, ProbeTimeout
from ..store.samples import Reading
from .base import as_number
from .watchdog import WATCHDOG, Deadline


class SqlQuery:
    """Runs one query read-only against an engine; shared by probes and evidence queries."""

    def __init__(self, engine: Engine, query: str, timeout: float) -> None:
        self.engine = engine
        self.query = text(query)
        self.timeout = timeout

    def rows(self, now: datetime, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            return self._rows(now, limit, retry=True)
        except _Stale:
            # A pooled connection from before the database restarted: one fresh try, same run.
            return self._rows(now, limit, retry=False)

    def _rows(self, now: datetime, limit: int | None, *, retry: bool) -> tuple[list[str], list[tuple[Any, ...]]]:
        timer: Deadline | None = None
        timed_out = threading.Event()
        try:
            with self.engine.connect() as conn:
                timer = WATCHDOG.after(self._backstop(conn), lambda: self._abort(conn, timed_out))
                self._begin_read_only(conn)
                params = {"now": now.timestamp()} if ":now" in str(self.query) else {}
                result = conn.execute(self.query, params)
                columns = list(result.keys())
                rows = [tuple(row) for row in (result.fetchmany(limit) if limit else result.fetchall())]
                conn.rollback()
                return columns, rows
        except PoolTimeout:
            raise ProbeTimeout("no free connection in the pool within the timeout") from None
        except DBAPIError as exc:
            if timed_out.is_set() or _is_timeout(exc):
                raise ProbeTimeout(f"query did not finish within {self.timeout:g}s") from None
            if exc.connection_invalidated and retry:
                raise _Stale() from None
            raise ProbeError(_describe(exc)) from None
        except SQLAlchemyError as exc:
            raise ProbeError(_describe(exc)) from None
        finally:
            if timer is not None:
                timer.cancel()

    def _backstop(self, conn: SAConnection) -> float:
        # Servers with their own statement timeout get to use it first (a clean error, the
        # connection survives); the timer is for a server or network that stopped answering.
        return self.timeout if conn.dialect.name == "sqlite" else self.timeout + 1.0

    def _begin_read_only(self, conn: SAConnection) -> None:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            # Sessions are read-only from connect (ConnectionPools); the timeout is set once per
            # pooled connection and again only when a probe with another timeout borrows it.
            millis = int(self.timeout * 1000)
            if conn.info.get("statement_timeout") != millis:
                conn.exec_driver_sql(f"SET statement_timeout = {millis}")
                conn.info["statement_timeout"] = millis
        elif dialect in ("mysql", "mariadb"):
            # Session variables, set before the transaction starts; SET TRANSACTION applies to the next one.
            if getattr(conn.dialect, "is_mariadb", False):
                conn.exec_driver_sql(f"SET SESSION max_statement_time = {self.timeout:.3f}")
            else:
                conn.exec_driver_sql(f"SET SESSION max_execution_time = {int(self.timeout * 1000)}")
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    @staticmethod
    def _abort(conn: SAConnection, flag: threading.Event) -> None:
        flag.set()
        raw: Any = conn.connection.dbapi_connection
        with contextlib.suppress(Exception):  # best effort: the connection is thrown away anyway
            if hasattr(raw, "interrupt"):  # sqlite3: stops the running statement
                raw.interrupt()
                return
            sock = _socket_of(raw)
            if sock is not None:
                # Wakes the thread blocked reading from a server that stopped answering.
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()


class _Stale(Exception):
    """The pooled connection was dead on arrival."""


def _socket_of(raw: Any) -> socket.socket | None:
    pgconn = getattr(raw, "pgconn", None)  # psycopg 3
    if pgconn is not None:
        return socket.socket(fileno=os.dup(pgconn.socket))
    sock = getattr(raw, "_sock", None)  # PyMySQL
    if isinstance(sock, socket.socket):
        return socket.socket(fileno=os.dup(sock.fileno()))
    return None


def _is_timeout(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return any(
        word in message
        for word in (
            "statement timeout",
            "canceling statement",
            "interrupted",
            "max_statement_time",
            "max_execution_time",
            "timeout expired",
            "timed out",
        )
    )


def _describe(exc: SQLAlchemyError) -> str:
    # Driver messages can echo the URL; keep the first line of the driver's own message only.
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip().splitlines()[0] if str(orig or exc).strip() else ""
    kind = type(orig).__name__ if orig is not None else type(exc).__name__
    if isinstance(exc, OperationalError) and "connect" in message.lower():
        return f"cannot connect: {kind}"
    return f"{kind}: {message[:300]}"


class SqlProbe:
    """A probe whose value is the first column (or `value_column`) of a query's rows."""

    kind = "sql"

    def __init__(self, query: SqlQuery, value_column: str | None, label_columns: Sequence[str]) -> None:
        self._query = query
        self._value_column = value_column
        self._label_columns = list(label_columns)

    def run(self, now: datetime) -> list[Reading]:
        columns, rows = self._query.rows(now)
        if self._value_column is not None and self._value_column not in columns:
            raise ProbeInvalid(f"the query returned no column '{self._value_column}' (got {', '.join(columns)})")
        missing = [c for c in self._label_columns if c not in columns]
        if missing:
            raise ProbeInvalid(f"the query returned no label column(s) {', '.join(missing)}")
        value_index = columns.index(self._value_column) if self._value_column else 0
        if not self._label_columns:
            if len(rows) != 1:
                raise ProbeInvalid(f"expected one row, the query returned {len(rows)}")
            return [Reading(as_number(rows[0][value_index], what="the value"))]
        label_index = [columns.index(c) for c in self._label_columns]
        readings = []
        for row in rows:
            labels = {name: str(row[i]) for name, i in zip(self._label_columns, label_index, strict=True)}
            readings.append(Reading(as_number(row[value_index], what=f"the value for {labels}"), labels))
        return readings

    def close(self) -> None:
        """Engines belong to the shared pools, which close them."""
