"""Weeks of order-rate history for the demo, so its baseline rules have learned before it starts.

A new deployment has no history, and its baseline rules rightly stay in "learning"; the demo
plays a shop that has run for a while, with the order rate its simulator produces.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine

from ..model.model import Model
from ..store.db import transaction
from ..store.tables import Sample
from .order_stream import StreamSpec, generate

_SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]


def seed_baseline_history(engine: Engine, model: Model, now: datetime, orders_per_minute: float) -> int:
    """Samples for every baseline rule's signal over its history, up to `now`; returns how many."""
    written = 0
    seeded: set[tuple[str, str]] = set()
    for rule in model.baseline_rules().values():
        key = (rule.flow, rule.signal)
        if key in seeded:
            continue
        seeded.add(key)
        history = rule.baseline.history + timedelta(days=1)
        weeks = -(-history // timedelta(weeks=1))  # whole weeks, rounded up
        start = now - timedelta(weeks=weeks)
        spec = StreamSpec(start=start, weeks=weeks, peak_per_minute=orders_per_minute, weekly_growth=0.0, flat=True)
        # One sample per `resolution` is all a slot mean needs; the probe's own samples take over live.
        step = max(1, rule.baseline.resolution // timedelta(minutes=1))
        rows = [
            {
                "flow": rule.flow,
                "signal": rule.signal,
                "labels": "{}",
                "value": p.value,
                "observed_at": p.at,
                "source": "demo",
            }
            for p in generate(spec)[step - 1 :: step]
            if p.at < now - timedelta(minutes=5)
        ]
        with transaction(engine) as session:
            session.connection().execute(insert(_SAMPLE), rows)
        written += len(rows)
    return written
