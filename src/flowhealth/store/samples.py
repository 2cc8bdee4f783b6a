"""Writing samples and reading the latest value of each series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, insert, update
from sqlmodel import Session, col, select

from .tables import ProbeState, Sample, SignalValue
from .types import labels_key
from .upsert import upsert

_SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
_VALUE: Table = SignalValue.__table__  # type: ignore[attr-defined]
_STATE: Table = ProbeState.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Reading:
    """One value of a signal for one label set (the unit is the signal's)."""

    value: float | None
    labels: Mapping[str, str] = ()  # type: ignore[assignment]

    @property
    def key(self) -> str:
        return labels_key(dict(self.labels)) if self.labels else "{}"


def record_readings(
    session: Session,
    flow: str,
    signal: str,
    readings: Sequence[Reading],
    observed_at: datetime,
    source: str,
    *,
    replace_series: bool = True,
) -> None:
    """Store readings as samples and as the current value of their series.

    With `replace_series`, series of this signal that a successful run no longer reports are
    removed: the source said they are gone (a reason with no rejections left), which resolves
    their alerts, unlike a failed run, which makes them unknown (see `mark_unknown`).
    """
    # Core statements, not ORM objects: this runs once per probe run, thousands of times a minute.
    conn = session.connection()
    rows = {}
    for reading in readings:
        rows[reading.key] = {
            "flow": flow,
            "signal": signal,
            "labels": reading.key,
            "value": reading.value,
            "observed_at": observed_at,
            "source": source,
        }
    if rows:
        conn.execute(insert(_SAMPLE), list(rows.values()))
        upsert(conn, _VALUE, list(rows.values()), ["flow", "signal", "labels"])
    if replace_series:
        gone = delete(_VALUE).where(_VALUE.c.flow == flow, _VALUE.c.signal == signal)
        if rows:
            gone = gone.where(_VALUE.c.labels.not_in(list(rows)))
        conn.execute(gone)


def mark_unknown(session: Session, flow: str, signal: str, observed_at: datetime, source: str) -> None:
    """The source failed: every series of the signal becomes unknown, never frozen."""
    conn = session.connection()
    changed = conn.execute(
        update(_VALUE)
        .where(_VALUE.c.flow == flow, _VALUE.c.signal == signal)
        .values(value=None, observed_at=observed_at, source=source)
    )
    row = {"flow": flow, "signal": signal, "labels": "{}", "value": None, "observed_at": observed_at, "source": source}
    if not changed.rowcount:
        conn.execute(insert(_VALUE), [row])
    conn.execute(insert(_SAMPLE), [row])


def current_values(session: Session) -> list[SignalValue]:
    return list(session.exec(select(SignalValue)).all())


def probe_states(session: Session) -> list[ProbeState]:
    return list(session.exec(select(ProbeState)).all())


def prune_samples(
    session: Session, older_than: datetime, keep_longer: Mapping[tuple[str, str], datetime] | None = None
) -> int:
    """Drop raw samples past retention; current values and alert history stay.

    `keep_longer` gives (flow, signal) series an earlier cutoff: baseline rules read weeks of history.
    """
    kept = dict(keep_longer or {})
    query = delete(Sample).where(col(Sample.observed_at) < older_than)
    for flow, signal in kept:
        query = query.where(~((col(Sample.flow) == flow) & (col(Sample.signal) == signal)))
    total = int(session.connection().execute(query).rowcount or 0)
    for (flow, signal), cutoff in kept.items():
        cutoff = min(cutoff, older_than)  # never shorter than the general retention
        older = delete(Sample).where(
            col(Sample.flow) == flow, col(Sample.signal) == signal, col(Sample.observed_at) < cutoff
        )
        total += int(session.connection().execute(older).rowcount or 0)
    return total


def retention_cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
