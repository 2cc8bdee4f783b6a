"""A signal's values over a range, binned for charts, and the periods its alerts were firing."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ..model.model import Model
from ..store.tables import AlertEvent, Sample

# A firing that started this long before the range still shows if it was still going.
FIRING_LOOKBACK = timedelta(days=14)


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float | None  # the peak of the bin; None: no sample, or only unknown ones


@dataclass(frozen=True)
class Series:
    """One label set of a signal over the range, a point per bin."""

    labels: dict[str, str]
    points: list[Point]

    @property
    def peak(self) -> float | None:
        return max((p.value for p in self.points if p.value is not None), default=None)

    @property
    def last(self) -> float | None:
        return next((p.value for p in reversed(self.points) if p.value is not None), None)


@dataclass(frozen=True)
class ExpectedBand:
    """What a signal is expected to be over time (a baseline's low and high per bin)."""

    points: list[tuple[datetime, float, float]]


# Hook for baselines: given (flow, signal, start, end, bins), the expected band, or None when the
# signal has none. The board draws a band when there is one, else the rule thresholds.
BandSource = Callable[[str, str, datetime, datetime, int], ExpectedBand | None]


def no_bands(_flow: str, _signal: str, _start: datetime, _end: datetime, _bins: int) -> ExpectedBand | None:
    return None


@dataclass(frozen=True)
class FiringPeriod:
    rule: str
    labels: str
    start: datetime
    end: datetime | None  # None: still firing when the range ends
    value: float | None


@dataclass
class SignalHistory:
    """Every series of one signal over [start, end)."""

    flow: str
    signal: str
    start: datetime
    end: datetime
    bins: int
    series: list[Series] = field(default_factory=list)


def _bin_of(at: datetime, start: datetime, width: timedelta, bins: int) -> int:
    return min(bins - 1, max(0, int((at - start) / width)))


def signal_histories(
    session: Session, model: Model, start: datetime, end: datetime, bins: int, flows: set[str] | None = None
) -> dict[tuple[str, str], SignalHistory]:
    """(flow, signal) -> its series binned over [start, end]; each bin keeps its peak (what alerting cares about)."""
    width = (end - start) / bins
    # Five columns: past sqlmodel's typed select overloads, so plain SQLAlchemy.
    stmt = sa_select(
        col(Sample.flow), col(Sample.signal), col(Sample.labels), col(Sample.value), col(Sample.observed_at)
    ).where(col(Sample.observed_at) >= start, col(Sample.observed_at) <= end)  # `end` is usually now: include it
    if flows is not None:
        stmt = stmt.where(col(Sample.flow).in_(sorted(flows)))
    peaks: dict[tuple[str, str, str], list[float | None]] = defaultdict(lambda: [None] * bins)
    for flow, signal, labels, value, observed_at in session.execute(stmt).yield_per(5000):
        if flow not in model.flows or signal not in model.flows[flow].signals:
            continue
        row = peaks[(flow, signal, labels)]
        i = _bin_of(observed_at, start, width, bins)
        peak = row[i]
        if value is not None and (peak is None or value > peak):
            row[i] = value
    out: dict[tuple[str, str], SignalHistory] = {}
    for flow_id, flow in model.flows.items():
        if flows is not None and flow_id not in flows:
            continue
        for signal_id in flow.signals:
            out[(flow_id, signal_id)] = SignalHistory(flow_id, signal_id, start, end, bins)
    times = [start + width * i for i in range(bins)]
    for (flow, signal, labels), row in sorted(peaks.items()):
        points = [Point(at, v) for at, v in zip(times, row, strict=True)]
        out[(flow, signal)].series.append(Series(json.loads(labels), points))
    return out


def firing_periods(
    session: Session, model: Model, start: datetime, end: datetime, flows: set[str] | None = None
) -> dict[str, list[FiringPeriod]]:
    """rule -> the periods its series were firing that overlap [start, end)."""
    stmt = (
        select(AlertEvent)
        .where(col(AlertEvent.at) >= start - FIRING_LOOKBACK, col(AlertEvent.at) <= end)
        .where(col(AlertEvent.event).in_(["firing", "resolved"]))
        .order_by(col(AlertEvent.at), col(AlertEvent.id))
    )
    if flows is not None:
        stmt = stmt.where(col(AlertEvent.flow).in_(sorted(flows)))
    open_since: dict[tuple[str, str], AlertEvent] = {}
    out: dict[str, list[FiringPeriod]] = defaultdict(list)
    for event in session.exec(stmt).all():
        key = (event.rule, event.labels)
        if event.event == "firing":
            open_since.setdefault(key, event)
        elif key in open_since:
            began = open_since.pop(key)
            if event.at >= start:
                out[event.rule].append(FiringPeriod(event.rule, event.labels, began.at, event.at, began.value))
    # No resolve before the end of the range: firing until the range ends (or still firing now).
    for began in open_since.values():
        out[began.rule].append(FiringPeriod(began.rule, began.labels, began.at, None, began.value))
    return {rule: sorted(periods, key=lambda p: p.start) for rule, periods in out.items() if rule in model.all_rules()}
