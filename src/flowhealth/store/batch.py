"""Many probe results in a handful of statements: what the batch writer commits each pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, literal_column, select
from sqlalchemy.engine import Connection, Dialect
from sqlmodel import Session

from .samples import Reading, mark_unknown
from .tables import ProbeState, Sample, SignalValue
from .upsert import dialect_insert

_SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
_VALUE: Table = SignalValue.__table__  # type: ignore[attr-defined]
_STATE: Table = ProbeState.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Result:
    """One probe run as the store sees it."""

    flow: str
    signal: str
    kind: str
    outcome: str
    readings: Sequence[Reading]
    at: datetime
    duration: float
    error: str | None


# Column order of the rows built below; the raw SQLite statements are checked against it.
_SAMPLE_COLUMNS = ("flow", "signal", "labels", "value", "observed_at", "source")
_STATE_COLUMNS = (
    "flow",
    "signal",
    "kind",
    "last_outcome",
    "last_run_at",
    "last_success_at",
    "last_duration_seconds",
    "consecutive_failures",
    "last_error",
)


class Statements:
    """Upserts built once per dialect and reused: building them cost more than running them.

    On SQLite the statements are also compiled once to the driver's SQL and run with the
    driver's `executemany` on the session's connection, in its transaction: SQLAlchemy's
    per-row parameter processing cost more than SQLite's own work. Other databases use Core.
    """

    def __init__(self, dialect: Dialect, *, driver_sql: bool = True) -> None:
        insert_ = dialect_insert(dialect.name)
        value = insert_(_VALUE)
        self.values = value.on_conflict_do_update(
            index_elements=["flow", "signal", "labels"],
            set_={
                "value": value.excluded.value,
                "observed_at": value.excluded.observed_at,
                "source": value.excluded.source,
            },
        )
        common = ("kind", "last_outcome", "last_run_at", "last_duration_seconds", "last_error")
        ok = insert_(_STATE)
        self.succeeded = ok.on_conflict_do_update(
            index_elements=["flow", "signal"],
            set_={
                **{c: ok.excluded[c] for c in common},
                "consecutive_failures": literal_column("0"),
                "last_success_at": ok.excluded.last_success_at,
            },
        )
        failed = insert_(_STATE)
        self.failed = failed.on_conflict_do_update(
            index_elements=["flow", "signal"],
            set_={**{c: failed.excluded[c] for c in common}, "consecutive_failures": _STATE.c.consecutive_failures + 1},
        )
        self.raw: tuple[str, str, str] | None = None
        self.at: Callable[[datetime], Any] = _same
        if driver_sql and dialect.name == "sqlite" and dialect.driver == "pysqlite":
            compiled = (
                _driver_sql(insert(_SAMPLE), dialect, _SAMPLE_COLUMNS),
                _driver_sql(self.values, dialect, _SAMPLE_COLUMNS),
                _driver_sql(self.succeeded, dialect, _STATE_COLUMNS),
            )
            processor = _STATE.c.last_run_at.type.dialect_impl(dialect).bind_processor(dialect)
            if None not in compiled and processor is not None:
                self.raw = compiled  # type: ignore[assignment]
                self.at = processor


def _same(value: datetime) -> Any:
    return value


def _driver_sql(statement: Any, dialect: Dialect, columns: tuple[str, ...]) -> str | None:
    """The statement as the driver runs it, if its parameters are exactly `columns` in order."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    if not dialect.positional or tuple(compiled.positiontup or ()) != columns:
        return None
    return str(compiled.string)


class BatchRecorder:
    """Writes batches of results; remembers each signal's label sets to delete vanished series."""

    def __init__(self, *, driver_sql: bool = True) -> None:
        self._driver_sql = driver_sql  # False: Core statements on every database (tests compare the two)
        self._statements: dict[str, Statements] = {}
        self._series: dict[tuple[str, str], set[str]] = {}

    def write(self, session: Session, results: Sequence[Result]) -> None:
        conn = session.connection()
        statements = self._statements.get(conn.dialect.name)
        if statements is None:
            statements = self._statements[conn.dialect.name] = Statements(conn.dialect, driver_sql=self._driver_sql)
        at = statements.at
        samples: list[tuple[Any, ...]] = []
        succeeded: list[tuple[Any, ...]] = []
        failed: list[dict[str, Any]] = []
        for r in results:
            if r.outcome != "success":
                mark_unknown(session, r.flow, r.signal, r.at, r.kind)  # rare: fine one at a time
                self._series.pop((r.flow, r.signal), None)
                failed.append(
                    {
                        "flow": r.flow,
                        "signal": r.signal,
                        "kind": r.kind,
                        "last_outcome": r.outcome,
                        "last_run_at": r.at,
                        "last_duration_seconds": r.duration,
                        "last_error": r.error,
                        "consecutive_failures": 1,
                        "last_success_at": None,
                    }
                )
                continue
            stamp = at(r.at)
            rows = {
                reading.key: (r.flow, r.signal, reading.key, reading.value, stamp, r.kind) for reading in r.readings
            }
            samples.extend(rows.values())
            self._forget_vanished(conn, r.flow, r.signal, set(rows))
            succeeded.append((r.flow, r.signal, r.kind, r.outcome, stamp, stamp, r.duration, 0, r.error))
        if statements.raw is not None:
            sample_sql, values_sql, succeeded_sql = statements.raw
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                if samples:
                    cursor.executemany(sample_sql, samples)
                    cursor.executemany(values_sql, samples)
                if succeeded:
                    cursor.executemany(succeeded_sql, succeeded)
            finally:
                cursor.close()
        else:
            if samples:
                sample_rows = [dict(zip(_SAMPLE_COLUMNS, row, strict=True)) for row in samples]
                conn.execute(insert(_SAMPLE), sample_rows)
                conn.execute(statements.values, sample_rows)
            if succeeded:
                conn.execute(statements.succeeded, [dict(zip(_STATE_COLUMNS, row, strict=True)) for row in succeeded])
        if failed:
            conn.execute(statements.failed, failed)

    def _forget_vanished(self, conn: Connection, flow: str, signal: str, current: set[str]) -> None:
        known = self._series.get((flow, signal))
        if known == current:
            return
        if known is None:
            stored = conn.execute(select(_VALUE.c.labels).where(_VALUE.c.flow == flow, _VALUE.c.signal == signal))
            known = {row[0] for row in stored}
        vanished = known - current
        if vanished:
            # The source no longer reports these series: gone, which resolves their alerts.
            conn.execute(
                delete(_VALUE).where(
                    _VALUE.c.flow == flow, _VALUE.c.signal == signal, _VALUE.c.labels.in_(sorted(vanished))
                )
            )
        self._series[(flow, signal)] = current
