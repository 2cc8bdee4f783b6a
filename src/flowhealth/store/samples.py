"""Writing samples and reading the latest value of each series."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from .tables import ProbeState, Sample, SignalValue
from .types import labels_key


@dataclass(frozen=True)
class Reading:
    """One value of a signal for one label set (the unit is the signal's)."""

    value: float | None
    labels: Mapping[str, str] = ()  # type: ignore[assignment]

    @property
    def key(self) -> str:
        return labels_key(dict(self.labels))


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
    seen: set[str] = set()
    for reading in readings:
        key = reading.key
        seen.add(key)
        session.add(
            Sample(
                flow=flow,
                signal=signal,
                labels=key,
                value=reading.value,
                observed_at=observed_at,
                source=source,
            )
        )
        current = session.get(SignalValue, (flow, signal, key))
        if current is None:
            session.add(
                SignalValue(
                    flow=flow,
                    signal=signal,
                    labels=key,
                    value=reading.value,
                    observed_at=observed_at,
                    source=source,
                )
            )
        else:
            current.value, current.observed_at, current.source = reading.value, observed_at, source
            session.add(current)
    if replace_series:
        stale = session.exec(select(SignalValue).where(SignalValue.flow == flow, SignalValue.signal == signal)).all()
        for row in stale:
            if row.labels not in seen:
                session.delete(row)


def mark_unknown(session: Session, flow: str, signal: str, observed_at: datetime, source: str) -> None:
    """The source failed: every series of the signal becomes unknown, never frozen."""
    rows = session.exec(select(SignalValue).where(SignalValue.flow == flow, SignalValue.signal == signal)).all()
    if not rows:
        session.add(
            SignalValue(
                flow=flow,
                signal=signal,
                labels="{}",
                value=None,
                observed_at=observed_at,
                source=source,
            )
        )
    for row in rows:
        row.value, row.observed_at, row.source = None, observed_at, source
        session.add(row)
    session.add(
        Sample(
            flow=flow,
            signal=signal,
            labels="{}",
            value=None,
            observed_at=observed_at,
            source=source,
        )
    )


def current_values(session: Session) -> list[SignalValue]:
    return list(session.exec(select(SignalValue)).all())


def probe_states(session: Session) -> list[ProbeState]:
    return list(session.exec(select(ProbeState)).all())


def prune_samples(session: Session, older_than: datetime) -> int:
    """Drop raw samples past retention; current values and alert history stay."""
    result = session.connection().execute(delete(Sample).where(col(Sample.observed_at) < older_than))
    return int(result.rowcount or 0)


def history(session: Session, flow: str, signal: str, since: datetime) -> Iterable[Sample]:
    stmt = select(Sample).where(Sample.flow == flow, Sample.signal == signal, Sample.observed_at >= since)
    return session.exec(stmt.order_by(Sample.observed_at)).all()  # type: ignore[arg-type]


def retention_cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
