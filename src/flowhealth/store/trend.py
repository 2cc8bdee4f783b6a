"""Queue trend per depth series from its last samples: draining, growing, stalled or empty.

A backlog that is draining is not an emergency; one that is growing or stalled is. Depth alone
cannot tell a stalled queue from one whose inflow equals its outflow, so `stalled` means "not
moving down and not empty"; the consumers signal and the oldest message's age tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

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
    out: dict[tuple[str, str, str], str] = {}
    for ref in model.signals():
        if ref.signal.kind is not SignalKind.DEPTH:
            continue
        interval = getattr(ref.signal.probe, "interval", None) or timedelta(minutes=1)
        since = now - interval * (WINDOW_SAMPLES * 2)
        stmt = (
            select(Sample.labels, Sample.value)
            .where(Sample.flow == ref.flow_id, Sample.signal == ref.signal_id, col(Sample.observed_at) >= since)
            .order_by(col(Sample.observed_at), col(Sample.id))
        )
        rows = session.exec(stmt).all()
        failed_last = bool(rows) and rows[-1][1] is None and rows[-1][0] == "{}"
        series: dict[str, list[float | None]] = {}
        for labels, value in rows:
            if value is not None or labels != "{}" or "{}" in series:
                series.setdefault(labels, []).append(value)
        for labels, values in series.items():
            out[(ref.flow_id, ref.signal_id, labels)] = "unknown" if failed_last else classify(values)
    return out
