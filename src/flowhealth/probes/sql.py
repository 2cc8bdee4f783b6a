"""The sql probe: a read-only query with a timeout, one number or one sample per row."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import ProbeError, ProbeInvalid, ProbeTimeout
from ..store.samples import Reading
from .base import as_number
from .sqltime import PARAMETERS, time_params
from .watchdog import WATCHDOG, Deadline


class Lease:
    """One pooled connection borrowed for several queries in a row, checked out at first use.

    A slot's probes of one connection run back to back on one lease: one pool checkout for the
    group instead of one per probe. After an error the connection goes back (or is thrown away)
    and the next query checks out a fresh one.
    """

    __slots__ = ("_conn", "_engine")

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._conn: SAConnection | None = None

    def connection(self, engine: Engine) -> SAConnection:
        if self._conn is not None:
            if self._engine is engine:
                return self._conn
            self.close()
        self._conn = engine.connect()
        self._engine = engine
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection is discarded by the pool
                conn.close()


class _Flag:
    """Set by the watchdog when it aborted a query (cheaper than a threading.Event per run)."""

    __slots__ = ("set",)

    def __init__(self) -> None:
        self.set = False


class SqlQuery:
    """Runs one query read-only against an engine; shared by probes and evidence queries."""

    def __init__(self, engine: Engine, query: str, timeout: float) -> None:
        self.engine = engine
        self.query = text(query)
        self.timeout = timeout
        # str() compiles: once here, not per run. `:now_ts` is among the binds only when used.
        self._time_binds = PARAMETERS & set(self.query.compile().binds)
        self._driver: _DriverStatement | None = None

    def rows(
        self, now: datetime, limit: int | None = None, lease: Lease | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        own = lease is None
        borrowed = Lease() if lease is None else lease
        try:
            try:
                return self._rows(borrowed, now, limit, retry=True)
            except _Stale:
                # A pooled connection from before the database restarted: one fresh try, same run.
                return self._rows(borrowed, now, limit, retry=False)
        finally:
            if own:
                borrowed.close()

    def _rows(
        self, lease: Lease, now: datetime, limit: int | None, *, retry: bool
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        timer: Deadline | None = None
        timed_out = _Flag()
        try:
            conn = lease.connection(self.engine)
            timer = WATCHDOG.after(self._backstop(conn), lambda: self._abort(conn, timed_out))
            self._begin_read_only(conn)
            driver = self._driver
            if driver is None or driver.dialect is not conn.dialect:
                driver = self._driver = _DriverStatement(self.query, conn.dialect)
            if driver.sql is None:
                params = time_params(conn.dialect.name, now, self._time_binds)
                result = conn.execute(self.query, params or None)
                columns = list(result.keys())
                rows = [tuple(row) for row in (result.fetchmany(limit) if limit else result.fetchall())]
            else:
                columns, rows = driver.run(conn, now, limit)
            if conn.in_transaction():
                conn.rollback()
            return columns, rows
        except PoolTimeout:
            raise ProbeTimeout("no free connection in the pool within the timeout") from None
        except DBAPIError as exc:
            lease.close()
            if timed_out.set or _is_timeout(exc):
                raise ProbeTimeout(f"query did not finish within {self.timeout:g}s") from None
            if exc.connection_invalidated and retry:
                raise _Stale() from None
            raise ProbeError(_describe(exc)) from None
        except SQLAlchemyError as exc:
            lease.close()
            raise ProbeError(_describe(exc)) from None
        except BaseException:
            lease.close()
            raise
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
    def _abort(conn: SAConnection, flag: _Flag) -> None:
        flag.set = True
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


class _DriverStatement:
    """A probe query compiled once for a dialect and run on the driver's own cursor.

    SQLAlchemy's execution context and result object cost about as much CPU as a small query
    itself; a probe needs neither (its text has no typed columns to convert). Errors still go
    through SQLAlchemy's handling, so they are wrapped, and a dead connection is invalidated
    (with the rest of the pool), exactly as `Connection.execute` does. Queries with parameters
    other than `:now` and `:now_ts` keep `Connection.execute` (`sql` is None), which reports
    the missing value.
    """

    __slots__ = ("binds", "dialect", "names", "sql")

    def __init__(self, query: TextClause, dialect: Dialect) -> None:
        self.dialect = dialect
        compiled = query.compile(dialect=dialect)
        binds = set(compiled.binds)
        self.sql: str | None = compiled.string if binds <= PARAMETERS else None
        self.binds = frozenset(binds & PARAMETERS)
        # Positional drivers take one value per placeholder, in order; the others a dict.
        self.names: list[str] | None = list(compiled.positiontup or ()) if dialect.positional else None

    def _params(self, now: datetime) -> Any:
        values = time_params(self.dialect.name, now, self.binds)
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values  # always a dict: the driver then unescapes %%

    def run(self, conn: SAConnection, now: datetime, limit: int | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        sql = self.sql
        assert sql is not None
        params = self._params(now)
        cursor = conn.connection.cursor()
        try:
            try:
                cursor.execute(sql, params)
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchmany(limit) if limit else cursor.fetchall()
            except Exception as exc:
                conn._handle_dbapi_exception(exc, sql, params, cursor, None)  # raises it wrapped, like execute()
                raise
        finally:
            cursor.close()
        return columns, [row if type(row) is tuple else tuple(row) for row in rows]


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
        return self.run_shared(now, None)

    def run_shared(self, now: datetime, lease: Lease | None) -> list[Reading]:
        """Run on the group's borrowed connection (the scheduler's slots), or on its own."""
        columns, rows = self._query.rows(now, lease=lease)
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
