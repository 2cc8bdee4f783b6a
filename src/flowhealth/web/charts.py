"""Geometry of inline SVG line charts over time: lines, thresholds or an expected band, firing periods.

The templates draw the shapes; numbers and labels reach the page only through autoescaped Jinja.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .history import ExpectedBand, FiringPeriod, Series

COLOURS = ("#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#57606a")
PAD = 4.0


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y"; a gap in the data starts a new polyline
    colour: str
    label: str


@dataclass(frozen=True)
class Rule:
    y: float
    text: str


@dataclass(frozen=True)
class Span:
    x: float
    width: float
    text: str


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass
class LineChart:
    """A chart in a width x height box; `label` says in words what it shows (for screen readers)."""

    width: int
    height: int
    label: str
    lines: list[list[Line]] = field(default_factory=list)  # per series, its unbroken runs
    thresholds: list[Rule] = field(default_factory=list)
    band: str | None = None  # polygon points of the expected band
    firing: list[Span] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    top_text: str = ""


def _runs(coords: Sequence[tuple[float, float | None]]) -> list[str]:
    runs: list[list[str]] = [[]]
    for x, y in coords:
        if y is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{x:.1f},{y:.1f}")
    # A single sample still shows as a short dash, not nothing.
    return [
        " ".join(r) if len(r) > 1 else f"{r[0]} {float(r[0].split(',')[0]) + 1.5:.1f},{r[0].split(',')[1]}"
        for r in runs
        if r
    ]


def line_chart(
    start: datetime,
    end: datetime,
    series: list[Series],
    *,
    width: int,
    height: int,
    fmt: Callable[[float], str],
    thresholds: Sequence[tuple[float, str]] = (),
    band: ExpectedBand | None = None,
    firing: Sequence[FiringPeriod] = (),
    ticks: Sequence[tuple[datetime, str]] = (),
    name: str = "",
) -> LineChart:
    """Series as lines over [start, end), scaled so peaks, thresholds and band all fit."""
    span = (end - start).total_seconds() or 1.0
    peaks = [p.value for s in series for p in s.points if p.value is not None]
    tops = peaks + [t for t, _ in thresholds] + ([hi for _, _, hi in band.points] if band else [])
    top = max(tops, default=0.0) * 1.1 or 1.0
    bottom = min([0.0, *peaks])

    def x_of(at: datetime) -> float:
        return max(0.0, min(width, (at - start).total_seconds() / span * width))

    def y_of(v: float) -> float:
        return height - PAD - (v - bottom) / ((top - bottom) or 1.0) * (height - 2 * PAD)

    chart = LineChart(width, height, "")
    step = width / max(1, max((len(s.points) for s in series), default=1))
    for i, s in enumerate(series):
        coords = [(j * step + step / 2, None if p.value is None else y_of(p.value)) for j, p in enumerate(s.points)]
        colour = COLOURS[i % len(COLOURS)]
        label = ", ".join(f"{k}={v}" for k, v in s.labels.items()) or name
        chart.lines.append([Line(run, colour, label) for run in _runs(coords)])
    chart.thresholds = [Rule(y_of(v), text) for v, text in thresholds]
    if band and band.points:
        upper = [f"{x_of(at):.1f},{y_of(hi):.1f}" for at, _, hi in band.points]
        lower = [f"{x_of(at):.1f},{y_of(lo):.1f}" for at, lo, _ in reversed(band.points)]
        chart.band = " ".join(upper + lower)
    for period in firing:
        x0, x1 = x_of(max(period.start, start)), x_of(min(period.end or end, end))
        if x1 > 0 and x0 < width:
            chart.firing.append(Span(x0, max(1.5, x1 - x0), period.rule))
    chart.ticks = [Tick(x_of(at), text) for at, text in ticks]
    peak = max(peaks, default=None)
    chart.top_text = fmt(peak) if peak is not None else "no samples in range"
    words = [f"{name}: peak {chart.top_text}" if name else f"peak {chart.top_text}"]
    if thresholds:
        words.append("threshold " + ", ".join(text for _, text in thresholds))
    if band:
        words.append("with its expected band")
    words.append(f"firing {len(chart.firing)} time(s)" if chart.firing else "not firing")
    chart.label = "; ".join(words)
    return chart
