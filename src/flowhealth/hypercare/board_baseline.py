"""Baseline rules on the flow board: the band a signal is held to now, and what an alert expected."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from ..alerting.baseline import Expected
from ..alerting.baseline_live import current_expectations
from ..alerting.expected_note import expected_line, expected_note
from ..alerting.payload import format_value
from ..model.model import Model
from ..store.tables import AlertState, SignalValue

Bands = dict[str, Expected]


def bands_now(session: Session, model: Model, values: list[SignalValue], now: datetime) -> Bands:
    """The expectation of every baseline rule now, by rule id."""
    series: dict[tuple[str, str], list[str]] = {}
    for v in values:
        series.setdefault((v.flow, v.signal), []).append(v.labels)
    return {rule_id: e for rule_id, _, e in current_expectations(session, model, series, now)}


def band_threshold(model: Model, rule_id: str, expected: Expected) -> dict[str, Any]:
    """A board threshold entry for a baseline rule: its band edge now, or that it is learning."""
    rule = model.rules[rule_id]
    unit = model.signal(rule.flow, rule.signal).unit
    below = getattr(rule, "below_expected", None) is not None
    entry: dict[str, Any] = {"rule": rule_id, "direction": "below" if below else "above", "severity": rule.severity}
    if expected.learning:
        return {**entry, "value": None, "text": f"learning ({expected.basis()})"}
    edge = expected.low if below else expected.high
    band = f"{format_value(expected.low, unit, {})} to {format_value(expected.high, unit, {})}"
    return {**entry, "value": edge, "text": f"expected {band} ({expected.basis()})"}


def alert_expected(model: Model, state: AlertState, bands: Bands) -> str | None:
    """What a firing baseline alert expected, worded as in Slack and the console."""
    expected = bands.get(state.rule)
    if expected is None:
        return None
    rule = model.rules[state.rule]
    signal = model.signal(rule.flow, rule.signal)
    note = expected_note(expected, state.last_value, signal.kind, model.flows[rule.flow].average_value)
    return expected_line(note, format_value(state.last_value, signal.unit, {}))
