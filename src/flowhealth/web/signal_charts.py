"""Charts of every signal of some flows over a range, with thresholds (or expected bands) and firing periods."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..model.model import Model
from ..model.units import format_quantity
from .charts import LineChart, line_chart
from .history import BandSource, firing_periods, no_bands, signal_histories

MAX_LINES = 6  # more label sets than this: the chart shows the worst ones, the table lists all


def time_ticks(start: datetime, end: datetime, count: int = 4) -> list[tuple[datetime, str]]:
    """A few labelled moments along the x axis, as dates for long ranges and times for short ones."""
    step = (end - start) / count
    form = "%m-%d" if end - start > timedelta(days=2) else "%H:%M"
    return [(start + step * i, (start + step * i).strftime(form)) for i in range(count + 1)]


def signal_charts(
    model: Model,
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    flows: set[str] | None = None,
    bins: int = 48,
    width: int = 160,
    height: int = 32,
    bands: BandSource = no_bands,
    axis: bool = False,
) -> dict[tuple[str, str], LineChart]:
    """(flow, signal) -> its chart over [start, end)."""
    with Session(engine) as session:
        histories = signal_histories(session, model, start, end, bins, flows)
        periods = firing_periods(session, model, start, end, flows)
    out = {}
    for (flow_id, signal_id), history in histories.items():
        unit = model.signal(flow_id, signal_id).unit
        rules = model.rules_of(flow_id, signal_id)
        thresholds = []
        for rule_id in rules:
            direction, value = model.rule_threshold(rule_id)
            thresholds.append((value, f"{direction} {format_quantity(value, unit)}"))
        series = sorted(history.series, key=lambda s: -(s.peak or 0.0))[:MAX_LINES]
        band = bands(flow_id, signal_id, start, end, bins)
        out[(flow_id, signal_id)] = line_chart(
            start,
            end,
            series,
            width=width,
            height=height,
            fmt=partial(format_quantity, unit=unit),
            thresholds=[] if band else thresholds,
            band=band,
            firing=[p for r in rules for p in periods.get(r, [])],
            ticks=time_ticks(start, end) if axis else (),
            name=signal_id,
        )
    return out
