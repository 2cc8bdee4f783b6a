"""Durations as people write them in YAML: ``30s``, ``5m``, ``1h30m``, ``2d``, or plain seconds;
and durations and numbers as people read them in messages, dashboards and reports."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"
# Longer than anything meaningful, short enough that `now + duration` never overflows a datetime.
MAX_SECONDS = 100 * 365 * 86400.0


def _bounded(seconds: float) -> timedelta:
    if not seconds <= MAX_SECONDS:  # also refuses NaN
        raise ValueError("a duration cannot be longer than 100 years")
    return timedelta(seconds=seconds)


def parse_duration(value: Any) -> timedelta:
    """Turn ``"1h30m"`` or ``90`` (seconds) into a timedelta; raise ValueError otherwise."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 30s, 5m, 1h30m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(value)
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return _bounded(total)
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 5m, 1h30m, 2d")
    raise ValueError("a duration is a number of seconds or a string like 30s, 5m, 1h30m")


def format_duration(delta: timedelta | float) -> str:
    """Render a duration the way the YAML would spell it (``1h30m``)."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: 30s, 5m, 1h30m, 2d, or seconds as a number.",
        }
    ),
]


def format_number(value: float, digits: int = 2) -> str:
    """1,250 or 1,250.50: thousands separated, decimals only when there are any."""
    number = float(value)
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.{digits}f}"


def human_duration(seconds: timedelta | float) -> str:
    """A duration for people, the one spelling of every message, page and CLI table: ``25m 37s``,
    ``1h 30m 37s``, ``2h 5m``, ``42.5s``, ``250ms``.

    It is Prometheus' ``humanizeDuration`` with zero units left out, so a rule text's
    ``{{ value | duration }}`` reads the same from flowhealth as from the exported rule
    (Prometheus writes ``16m 0s`` where this writes ``16m``). Like Prometheus, whole seconds are
    cut, not rounded, from a minute up.
    """
    value = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    if math.isnan(value) or math.isinf(value):
        return f"{value:.4g}"
    if value == 0:
        return "0s"
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value < 1:
        return sign + _sub_second(value)
    if value < 60:
        return f"{sign}{value:.4g}s"
    rest, parts = int(value), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + " ".join(parts)


def _sub_second(value: float) -> str:
    """``250ms``, ``12.5us``: Prometheus' SI prefixes below a second."""
    prefix = ""
    for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if value >= 1:
            break
        prefix, value = candidate, value * 1000
    return f"{value:.4g}{prefix}s"


def format_reading(value: float | None, unit: str) -> str:
    """A signal value with its unit: ``40m 29s`` for seconds, ``1,250 messages``, ``0.25 ratio``."""
    if value is None:
        return "unknown"
    if unit == "seconds":
        return human_duration(value)
    return f"{format_number(value)} {unit}"
