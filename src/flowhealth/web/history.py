"""A signal's values over a range, binned for charts, and the periods its alerts were firing."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Float, Integer, cast, func
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


def _bin_expression(session: Session, start: datetime, width: timedelta) -> ColumnElement[int]:
    """The bin number of a sample, computed by the database: the board must not pull a day of raw samples."""
    seconds = width.total_seconds()
    epoch: ColumnElement[float]
    if session.get_bind().dialect.name == "sqlite":
        # Stored as naive UTC text; strftime('%s') reads it as UTC. Rows are at or after `start`, so
        # truncating to an integer is the floor.
        epoch = cast(func.strftime("%s", col(Sample.observed_at)), Float)
        return cast((epoch - start.timestamp()) / seconds, Integer)
    epoch = cast(func.extract("epoch", col(Sample.observed_at)), Float)  # naive UTC timestamp: epoch seconds
    return cast(func.floor((epoch - start.timestamp()) / seconds), Integer)


def signal_histories(
    session: Session, model: Model, start: datetime, end: datetime, bins: int, flows: set[str] | None = None
) -> dict[tuple[str, str], SignalHistory]:
    """(flow, signal) -> its series binned over [start, end]; each bin keeps its peak (what alerting cares about)."""
    width = (end - start) / bins
    number = _bin_expression(session, start, width).label("bin")
    key = (col(Sample.flow), col(Sample.signal), col(Sample.labels))
    stmt = (
        sa_select(*key, number, func.max(col(Sample.value)))
        .where(col(Sample.observed_at) >= start, col(Sample.observed_at) <= end)  # `end` is usually now
        .group_by(*key, number)
    )
    if flows is not None:
        stmt = stmt.where(col(Sample.flow).in_(sorted(flows)))
    peaks: dict[tuple[str, str, str], list[float | None]] = defaultdict(lambda: [None] * bins)
    for flow, signal, labels, i, peak in session.execute(stmt):
        if flow in model.flows and signal in model.flows[flow].signals and peak is not None:
            row = peaks[(flow, signal, labels)]
            j = min(bins - 1, max(0, int(i)))  # a sample at exactly `end` belongs to the last bin
            current = row[j]
            row[j] = peak if current is None else max(current, peak)
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
