"""Queue trend per depth series from its last samples: draining, growing, stalled or empty.

A backlog that is draining is not an emergency; one that is growing or stalled is. Depth alone
cannot tell a stalled queue from one whose inflow equals its outflow, so `stalled` means "not
moving down and not empty"; the consumers signal and the oldest message's age tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import Session

from ..model.model import Model
from ..model.schema import SignalKind
from .tables import Sample

TRENDS = ("draining", "growing", "stalled", "empty", "unknown")
WINDOW_SAMPLES = 5


def classify(values: Sequence[float | None]) -> str:
    """Trend of the last samples (oldest first); an unknown latest value makes the trend unknown."""
    if not values or values[-1] is None:
        return "unknown"
    known = [v for v in values if v is not None][-WINDOW_SAMPLES:]
    if len(known) < 3:
        return "unknown"
    if max(known) == 0:
        return "empty"
    change = known[-1] - known[0]
    # Small wiggles (a message or 5 %) are noise, not a trend.
    tolerance = max(1.0, 0.05 * max(known))
    if change < -tolerance:
        return "draining"
    if change > tolerance:
        return "growing"
    return "stalled" if known[-1] > 0 else "empty"


def queue_trends(session: Session, model: Model, now: datetime) -> dict[tuple[str, str, str], str]:
    """(flow, signal, labels key) -> trend, for every depth signal's series."""
    windows = {
        (ref.flow_id, ref.signal_id): now
        - (getattr(ref.signal.probe, "interval", None) or timedelta(minutes=1)) * (WINDOW_SAMPLES * 2)
        for ref in model.signals()
        if ref.signal.kind is SignalKind.DEPTH
    }
    if not windows:
        return {}
    # One query per distinct window (the depth probes' intervals: a handful), not per signal: a
    # scrape with a thousand queues must stay cheap. The window is compared in SQL, so no row's
    # time is converted into Python (that was a third of a scrape's trend work).
    by_window: dict[datetime, set[tuple[str, str]]] = {}
    for key, since in windows.items():
        by_window.setdefault(since, set()).add(key)
    table = Sample.__table__.c  # type: ignore[attr-defined]
    rows: dict[tuple[str, str], list[tuple[str, float | None]]] = {key: [] for key in windows}
    for since, keys in by_window.items():
        stmt = (
            sa_select(table.flow, table.signal, table.labels, table.value)
            .where(table.signal.in_(sorted({s for _, s in keys})), table.observed_at >= since)
            .order_by(table.observed_at, table.id)
        )
        for flow, signal, labels, value in session.connection().execute(stmt).all():
            if (flow, signal) in keys:
                rows[(flow, signal)].append((labels, value))
    out: dict[tuple[str, str, str], str] = {}
    for (flow, signal), samples in rows.items():
        failed_last = bool(samples) and samples[-1][1] is None and samples[-1][0] == "{}"
        series: dict[str, list[float | None]] = {}
        for labels, value in samples:
            if value is not None or labels != "{}" or "{}" in series:
                series.setdefault(labels, []).append(value)
        for labels, values in series.items():
            out[(flow, signal, labels)] = "unknown" if failed_last else classify(values)
    return out
