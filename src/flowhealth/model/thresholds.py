"""Thresholds read against their signal's unit: `100 messages` on a depth signal, `15m` on a delay."""

from __future__ import annotations

from typing import Any

from .schema import THRESHOLD_WITH_UNIT, Signal

THRESHOLD_FIELDS = ("above", "below", "recovery_threshold")


def _unit_words(signal: Signal) -> set[str]:
    unit = signal.unit
    words = {unit, unit.rstrip("s")}
    if unit == "amount":
        words.add("")  # an amount is in the series' own currency; any currency code is accepted below
    return words


def threshold_problem(raw: Any, signal: Signal) -> str | None:
    """What is wrong with a threshold as written (a string) for this signal, or None."""
    if not isinstance(raw, str):
        return None
    kind, unit = signal.kind.value, signal.unit
    with_unit = THRESHOLD_WITH_UNIT.match(raw)
    if with_unit:
        number, word = with_unit.group(1), with_unit.group(2).strip()
        if word.lower() in _unit_words(signal) or (unit == "amount" and word.isupper() and len(word) == 3):
            return None
        if signal.kind.is_time:
            return f"'{raw}': a {kind} signal is a time; write a duration such as 15m or 2h"
        return f"'{raw}': a {kind} signal counts {unit}; write {number} or '{number} {unit}'"
    if not signal.kind.is_time:
        return f"'{raw}' is a duration, but a {kind} signal counts {unit}; write a number such as 100 or '100 {unit}'"
    return None
