"""Values in human units: `550 ms`, `1 payload`, `3 payloads`, `1,250.50 EUR`."""

from __future__ import annotations

from .durations import format_number, human_duration

# Unit names are plural (as the metric catalogue spells them); one of a thing reads singular.
_SINGULAR = {
    "payloads": "payload",
    "records": "record",
    "messages": "message",
    "consumers": "consumer",
    "retries": "retry",
    "interventions": "intervention",
}


def format_seconds(seconds: float) -> str:
    """A duration value the way every message spells one: ``250ms``, ``2.5s``, ``25m 37s``."""
    return human_duration(seconds)


def unit_text(value: float, unit: str) -> str:
    """The unit name that goes with a number: singular for exactly one."""
    return _SINGULAR.get(unit, unit) if value == 1 else unit


def format_quantity(value: float | None, unit: str, currency: str = "") -> str:
    """One value with its unit the way a person reads it; None is 'unknown'."""
    if value is None:
        return "unknown"
    if unit == "seconds":
        return format_seconds(value)
    if unit == "amount":
        return f"{format_number(value)} {currency}".strip()
    if unit == "ratio":
        return format_number(value)
    return f"{format_number(value)} {unit_text(value, unit)}"
