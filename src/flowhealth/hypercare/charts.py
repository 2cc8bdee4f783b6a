"""Geometry of horizontal bar charts; line charts over time are web.charts. Templates draw both."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    y: int
    length: float


def bars(items: dict[str, int] | dict[str, float], width: int = 220, row: int = 22) -> list[Bar]:
    """Horizontal bars, largest first, scaled to the largest value."""
    peak = max(items.values(), default=0) or 1
    ordered = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Bar(label, value, i * row, max(2.0, value / peak * width)) for i, (label, value) in enumerate(ordered)]
