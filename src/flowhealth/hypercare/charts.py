"""Geometry for small inline SVG charts; the templates draw them, so no numbers reach HTML unescaped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spark:
    """A sparkline: polyline points in a width x height box, and the last point for a dot."""

    width: int
    height: int
    points: str
    last_x: float
    last_y: float
    peak: float


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    y: int
    length: float


def sparkline(values: list[int] | list[float], width: int = 120, height: int = 28) -> Spark:
    """A trend over the period's days, scaled to the largest value (zero stays on the baseline)."""
    series = list(values) or [0]
    peak = max(series) or 1
    step = width / max(1, len(series) - 1)
    pad = 3
    coords = [(i * step, height - pad - (v / peak) * (height - 2 * pad)) for i, v in enumerate(series)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return Spark(width, height, points, coords[-1][0], coords[-1][1], max(series))


def bars(items: dict[str, int] | dict[str, float], width: int = 220, row: int = 22) -> list[Bar]:
    """Horizontal bars, largest first, scaled to the largest value."""
    peak = max(items.values(), default=0) or 1
    ordered = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Bar(label, value, i * row, max(2.0, value / peak * width)) for i, (label, value) in enumerate(ordered)]
