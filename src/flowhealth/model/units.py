"""Values in human units: `550 ms`, `1 payload`, `3 payloads`, `1,250.50 EUR`."""

from __future__ import annotations

from .durations import format_duration, format_number

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
    """Sub-second values in milliseconds, a few seconds with a decimal, longer ones as 1h30m."""
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0 s"
    if magnitude < 1:
        return f"{seconds * 1000:.0f} ms"
    if magnitude < 10 and not float(seconds).is_integer():
        return f"{seconds:.1f} s"
    return format_duration(seconds)


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
