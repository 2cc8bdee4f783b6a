"""Many probe results in a handful of statements: what the batch writer commits each pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from .samples import Reading, mark_unknown
from .tables import ProbeState, Sample, SignalValue

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


class Statements:
    """Upserts built once per dialect and reused: building them cost more than running them."""

    def __init__(self, dialect: str) -> None:
        insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
                "consecutive_failures": 0,
                "last_success_at": ok.excluded.last_success_at,
            },
        )
        failed = insert_(_STATE)
        self.failed = failed.on_conflict_do_update(
            index_elements=["flow", "signal"],
            set_={**{c: failed.excluded[c] for c in common}, "consecutive_failures": _STATE.c.consecutive_failures + 1},
        )


class BatchRecorder:
    """Writes batches of results; remembers each signal's label sets to delete vanished series."""

    def __init__(self) -> None:
        self._statements: dict[str, Statements] = {}
        self._series: dict[tuple[str, str], set[str]] = {}

    def write(self, session: Session, results: Sequence[Result]) -> None:
        conn = session.connection()
        statements = self._statements.get(conn.dialect.name)
        if statements is None:
            statements = self._statements[conn.dialect.name] = Statements(conn.dialect.name)
        samples: list[dict[str, Any]] = []
        succeeded: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for r in results:
            state = {
                "flow": r.flow,
                "signal": r.signal,
                "kind": r.kind,
                "last_outcome": r.outcome,
                "last_run_at": r.at,
                "last_duration_seconds": r.duration,
                "last_error": r.error,
            }
            if r.outcome != "success":
                mark_unknown(session, r.flow, r.signal, r.at, r.kind)  # rare: fine one at a time
                self._series.pop((r.flow, r.signal), None)
                failed.append({**state, "consecutive_failures": 1, "last_success_at": None})
                continue
            rows = {
                reading.key: {
                    "flow": r.flow,
                    "signal": r.signal,
                    "labels": reading.key,
                    "value": reading.value,
                    "observed_at": r.at,
                    "source": r.kind,
                }
                for reading in r.readings
            }
            samples.extend(rows.values())
            self._forget_vanished(conn, r.flow, r.signal, set(rows))
            succeeded.append({**state, "consecutive_failures": 0, "last_success_at": r.at})
        if samples:
            conn.execute(insert(_SAMPLE), samples)
            conn.execute(statements.values, samples)
        if succeeded:
            conn.execute(statements.succeeded, succeeded)
        if failed:
            conn.execute(statements.failed, failed)

    def _forget_vanished(self, conn: Connection, flow: str, signal: str, current: set[str]) -> None:
        known = self._series.get((flow, signal))
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
