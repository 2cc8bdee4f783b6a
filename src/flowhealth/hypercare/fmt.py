"""Numbers the way a hypercare meeting reads them: durations, amounts per currency, arrows."""

from __future__ import annotations

from ..model.durations import format_number, human_duration
from .review import Change

ARROWS = {"better": "better", "worse": "worse", "same": "= same", "more": "▲ more", "fewer": "▼ fewer", None: "-"}


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else human_duration(seconds)


def number(value: float | None) -> str:
    return "-" if value is None else format_number(value)


def per_currency(values: dict[str, float], amount: bool = False) -> str:
    """'1,250.00 EUR, 30.00 USD', or '-' when there is nothing."""
    if not values:
        return "-"
    shown = (f"{v:,.2f}" if amount else number(v) for v in values.values())
    return ", ".join(f"{s} {c}".strip() for s, c in zip(shown, values, strict=True))


def change_value(change: Change, value: float | None) -> str:
    return duration(value) if "time to" in change.name else number(value)


def arrow(change: Change) -> str:
    """'▲ worse' when a figure that should fall rose, '▲ better' when one that should rise rose, ..."""
    if change.direction in ("better", "worse") and change.current is not None and change.previous is not None:
        return f"{'▲' if change.current > change.previous else '▼'} {change.direction}"
    return ARROWS[change.direction]
