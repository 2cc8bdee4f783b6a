"""Schema versions with Alembic: upgrade under a database lock; refuse a schema of another version.

Every flowhealth process that writes (serve, tests) upgrades the state database to the newest
revision this code knows before it touches a table. Replicas started together on PostgreSQL queue on
a transaction-scoped advisory lock, and PostgreSQL runs DDL inside the transaction, so a migration
is applied whole by exactly one of them, or not at all. SQLite gets the same from an exclusive
transaction. Databases created before flowhealth used Alembic carry no version: they are recognised
by their tables and columns, stamped with the revision they match, then upgraded. A brand-new
database gets every declared table at once, recorded at head, as Alembic's cookbook builds one.

Alembic (and Mako, which it imports) is imported only when a database must be stamped or
upgraded: the revisions are read from the migration files' `revision = ...` lines and the recorded
one with one SELECT, so a command or a restart on a current database does not pay ~0.15 s of CPU
for it.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import SchemaError, StoreError
from .failures import describe

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock takes a bigint; this one is "flowhealth-migrate" folded into 63 bits.
MIGRATION_LOCK_KEY = 0x666C6F776D696772

Fingerprint = dict[str, frozenset[str]]
# Alembic's own version table (alembic.runtime.migration.MigrationContext._version), as it creates it.
VERSION_TABLE_DDL = Table(
    VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)


class SchemaState(enum.StrEnum):
    """How a state database's schema compares with the one this code declares."""

    EMPTY = "empty"  # no flowhealth table yet
    UNVERSIONED = "unversioned"  # made before Alembic: recognised by its tables, stamped on upgrade
    BEHIND = "behind"  # needs `flowhealth db upgrade`
    CURRENT = "current"
    AHEAD = "ahead"  # written by a newer flowhealth


@dataclass(frozen=True)
class SchemaVersion:
    """The revision a database is at (None: no version recorded) and the newest this code knows."""

    state: SchemaState
    current: str | None
    head: str

    def as_dict(self) -> dict[str, str | None]:
        return {"state": self.state.value, "current": self.current, "head": self.head}


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, bound to a connection the caller opened (and locked)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


# Each migration file declares `revision = "0007"` and `down_revision = "0006"` (None for the first).
_DECLARED = re.compile(r'^(down_revision|revision)\s*=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)


@cache
def _chain() -> tuple[str, ...]:
    """Every revision from the first to head, oldest first, read from the migration files without Alembic.

    Alembic reads the same two lines; a test checks that both agree. Anything but one line of
    revisions (a branch, a gap) is refused here as Alembic would refuse it.
    """
    parents: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("[!_]*.py")):
        declared = {m.group(1): m.group(2) for m in _DECLARED.finditer(path.read_text(encoding="utf-8"))}
        if "revision" not in declared or not declared["revision"]:
            raise StoreError(f"migration {path.name} declares no revision")
        parents[declared["revision"]] = declared.get("down_revision")
    chain: list[str] = []
    child_of = {parent: child for child, parent in parents.items()}
    if len(child_of) != len(parents):
        raise StoreError("flowhealth's schema migrations branch: two revisions follow the same one")
    current = child_of.get(None)
    while current is not None:
        chain.append(current)
        current = child_of.get(current)
    if len(chain) != len(parents) or not chain:
        raise StoreError("flowhealth's schema migrations do not form one line from the first revision")
    return tuple(chain)


def head_revision() -> str:
    """The newest revision this code declares."""
    return _chain()[-1]


def revisions() -> list[str]:
    """Every revision from the first to head, oldest first."""
    return list(_chain())


def _recorded(connection: Connection) -> str | None:
    """The revision Alembic recorded, read with one SELECT (Alembic's own reader needs Alembic imported)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise SchemaError(
            f"the state database records several schema revisions ({', '.join(sorted(rows))}), "
            "which no flowhealth wrote; point FLOWHEALTH_DATABASE_URL at flowhealth's own database"
        )
    return rows[0] if rows else None


def _tables(connection: Connection) -> Fingerprint:
    inspector = inspect(connection)
    return {
        name: frozenset(column["name"] for column in inspector.get_columns(name))
        for name in inspector.get_table_names()
        if name != VERSION_TABLE
    }


@cache
def fingerprints() -> dict[str, Fingerprint]:
    """Tables and columns at each revision, found by upgrading a scratch in-memory database step by step."""
    from alembic import command

    scratch = create_engine("sqlite://")
    found: dict[str, Fingerprint] = {}
    with scratch.connect() as connection:
        for revision in revisions():
            command.upgrade(alembic_config(connection), revision)
            connection.commit()
            found[revision] = _tables(connection)
    scratch.dispose()
    return found


def recognise(tables: Fingerprint) -> str:
    """The revision an unversioned database's tables match exactly, or SchemaError."""
    for revision, fingerprint in fingerprints().items():
        if tables == fingerprint:
            return revision
    known = set().union(*(set(f) for f in fingerprints().values()))
    foreign = sorted(set(tables) - known)
    what = f"tables flowhealth never made ({', '.join(foreign[:5])})" if foreign else "a mix of flowhealth tables"
    raise SchemaError(
        f"the state database has {what} matching no flowhealth schema version, so it was not changed; "
        "point FLOWHEALTH_DATABASE_URL at flowhealth's own database"
    )


def _state_of(connection: Connection) -> SchemaVersion:
    head = head_revision()
    current = _recorded(connection)
    if current is None:
        tables = _tables(connection)
        return SchemaVersion(SchemaState.UNVERSIONED if tables else SchemaState.EMPTY, None, head)
    if current == head:
        return SchemaVersion(SchemaState.CURRENT, current, head)
    if current in revisions():
        return SchemaVersion(SchemaState.BEHIND, current, head)
    return SchemaVersion(SchemaState.AHEAD, current, head)


def _ahead(version: SchemaVersion) -> SchemaError:
    return SchemaError(
        f"the state database is at schema revision {version.current}, written by a newer flowhealth "
        f"(this one knows up to {version.head}); upgrade flowhealth, or point it at another database"
    )


def schema_version(engine: Engine) -> SchemaVersion:
    """Where the database stands, without changing it."""
    try:
        with engine.connect() as connection:
            return _state_of(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the state database's schema version: {describe(exc)}") from None


def require_current(engine: Engine) -> SchemaVersion:
    """For commands that only read or write rows: refuse a schema of another version, create an empty one."""
    version = schema_version(engine)
    if version.state is SchemaState.EMPTY:
        return upgrade(engine)
    if version.state is SchemaState.AHEAD:
        raise _ahead(version)
    if version.state is not SchemaState.CURRENT:
        at = version.current or "from before schema versions"
        raise SchemaError(
            f"the state database's schema is older than this flowhealth (revision {at}, needs {version.head}); "
            "run `flowhealth db upgrade` first (serve does it when it starts)"
        )
    return version


SQLITE_LOCK_RETRIES = 5  # processes opening a new SQLite file at once can meet in SQLite's deadlock check


def upgrade(engine: Engine) -> SchemaVersion:
    """Bring the database to head under a database-wide lock; a database newer than the code is refused.

    On SQLite, several processes that open a brand-new file at the same moment can make SQLite
    answer "locked" at once instead of waiting (it refuses a wait that could deadlock, e.g. while
    the file switches to WAL). The migration is idempotent, so it is simply tried again.
    """
    for attempt in range(1, SQLITE_LOCK_RETRIES + 1):
        try:
            return _upgrade(engine)
        except StoreError as exc:
            locked = engine.dialect.name == "sqlite" and "locked" in str(exc) and not isinstance(exc, SchemaError)
            if not locked or attempt == SQLITE_LOCK_RETRIES:
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _upgrade(engine: Engine) -> SchemaVersion:
    try:
        with _locked(engine) as connection:
            version = _state_of(connection)
            if version.state is SchemaState.AHEAD:
                raise _ahead(version)
            if version.state is SchemaState.CURRENT:
                return version  # the usual start: Alembic is not even imported
            if version.state is SchemaState.EMPTY:
                _create_at_head(connection)
                return _state_of(connection)
            from alembic import command

            if version.state is SchemaState.UNVERSIONED:
                command.stamp(alembic_config(connection), recognise(_tables(connection)))
            command.upgrade(alembic_config(connection), "head")
            return _state_of(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate the state database: {describe(exc)}") from None


def _create_at_head(connection: Connection) -> None:
    """A brand-new database: every declared table at once, recorded at head without Alembic.

    This is Alembic's recipe for building an up-to-date database from scratch ("create_all, then
    stamp head"), with the stamp written as Alembic writes it. Running the 14 revisions in turn cost
    ~0.35 s of CPU, with Alembic's import, on every first start and every test database; this costs
    ~0.05 s. A test builds a database both ways, on SQLite and PostgreSQL, and compares every
    table, column, key, index and constraint.
    """
    from sqlmodel import SQLModel

    from . import db as _db  # noqa: F401  - registers every table with SQLModel.metadata

    SQLModel.metadata.create_all(connection)
    VERSION_TABLE_DDL.create(connection)
    connection.execute(VERSION_TABLE_DDL.insert().values(version_num=head_revision()))


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One connection in one transaction that no other migrating process can enter meanwhile."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Released by commit or rollback, including when this process dies mid-migration.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            # Python's sqlite3 would run DDL outside a transaction; an explicit exclusive one makes the
            # migration atomic and makes a second process wait (busy timeout) until it is done.
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
