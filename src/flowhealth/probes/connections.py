"""One bounded SQLAlchemy engine per named connection, shared by every probe that reads it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError

from ..errors import ConfigError
from ..model.envref import resolve
from ..model.schema import Connection

_DRIVER_HINTS = {
    "psycopg": "postgres",
    "psycopg2": "postgres",
    "pymysql": "mysql",
    "MySQLdb": "mysql",
}


class ConnectionPools:
    """Lazily built engines, so a connection nobody probes is never opened."""

    def __init__(self, connections: Mapping[str, Connection], environ: Mapping[str, str]) -> None:
        self._connections = dict(connections)
        self._environ = environ
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine(self, name: str, *, connect_timeout: float) -> Engine:
        with self._lock:
            if name not in self._engines:
                self._engines[name] = self._build(name, connect_timeout)
            return self._engines[name]

    @property
    def environ(self) -> Mapping[str, str]:
        return self._environ

    def url(self, name: str) -> str:
        """The connection's URL with its ${ENV} references resolved (ConfigError naming a missing one)."""
        return resolve(self._connections[name].url, self._environ, where=f"connection '{name}'")

    def pool_size(self, name: str) -> int:
        return self._connections[name].pool_size

    def _build(self, name: str, connect_timeout: float) -> Engine:
        spec = self._connections[name]
        url_text = self.url(name)
        try:
            url = make_url(url_text)
        except ArgumentError:
            raise ConfigError(f"connection '{name}': not a database URL") from None
        backend = url.get_backend_name()
        if backend == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if backend == "mysql" and url.drivername in ("mysql", "mariadb"):
            url = url.set(drivername="mysql+pymysql")
        connect_args: dict[str, Any] = {}
        options: dict[str, Any] = {}
        if backend == "postgresql" or backend in ("mysql", "mariadb"):
            connect_args["connect_timeout"] = max(1, int(connect_timeout))
        if backend == "postgresql":
            # Read-only for the whole session, and autocommit: a probe run is its query alone,
            # with no BEGIN, SET or ROLLBACK round trips around it.
            # TimeZone=UTC: `:now_ts` and `timestamp without time zone` columns are compared as UTC.
            connect_args["options"] = "-c default_transaction_read_only=on -c TimeZone=UTC"
            options["isolation_level"] = "AUTOCOMMIT"
        elif backend in ("mysql", "mariadb"):
            # TIMESTAMP columns read in UTC, like the naive UTC value bound as `:now_ts`.
            connect_args["init_command"] = "SET time_zone = '+00:00'"
        elif backend == "sqlite":
            connect_args["check_same_thread"] = False
        try:
            engine = (
                create_engine(
                    url,
                    pool_size=spec.pool_size,
                    max_overflow=0,
                    pool_timeout=connect_timeout,
                    # No pre-ping: a ping to a hung server blocks before any timeout can act;
                    # SqlQuery retries once on a connection that turns out dead instead.
                    connect_args=connect_args,
                    **options,
                )
                if backend != "sqlite"
                else create_engine(url, connect_args=connect_args, pool_pre_ping=True)
            )
        except ModuleNotFoundError as exc:
            extra = _DRIVER_HINTS.get(exc.name or "", "all")
            raise ConfigError(
                f"connection '{name}': driver {exc.name} is missing; pip install 'flowhealth[{extra}]'"
            ) from None
        if backend == "sqlite":
            event.listen(engine, "connect", _sqlite_read_only)
        return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    # Probes read; a query that tries to write fails instead of changing the target.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()
