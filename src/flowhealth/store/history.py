"""Past values of a series for baseline rules: the mean of a signal over a time slot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Table, func, select
from sqlmodel import Session

from .tables import Sample

SlotMean = Callable[[datetime, datetime], float | None]
_SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]


def slot_reader(session: Session, flow: str, signal: str, labels: str) -> SlotMean:
    """Reads the mean of one series over (start, end]; None when nothing known was measured."""
    conn = session.connection()
    c = _SAMPLE.c

    def mean(start: datetime, end: datetime) -> float | None:
        # Uses ix_sample_series_time; a slot is a few minutes, so this reads a handful of rows.
        query = select(func.avg(c.value)).where(
            c.flow == flow,
            c.signal == signal,
            c.labels == labels,
            c.observed_at > start,
            c.observed_at <= end,
            c.value.is_not(None),
        )
        value = conn.execute(query).scalar()
        return None if value is None else float(value)

    return mean
