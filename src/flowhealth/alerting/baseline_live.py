"""Baseline rules against the state database: the evaluator's condition and the alert's explanation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from ..model.baseline_rule import BaselineRule
from ..model.model import Model
from ..store.history import slot_reader
from ..store.tables import AlertState
from .baseline import Expected, breaches, estimate
from .expected_note import ExpectedNote, expected_note


def expected_at(session: Session, model: Model, rule: BaselineRule, labels: str, at: datetime) -> Expected:
    """What `rule` expects of one series at `at`, from the samples kept in the database."""
    return estimate(rule, model.calendar_of(rule), at, slot_reader(session, rule.flow, rule.signal, labels))


def baseline_breached(
    session: Session, model: Model, rule: BaselineRule, labels: str, value: float, now: datetime
) -> bool:
    """The evaluator's condition for a baseline rule; `for` and `keep_firing_for` apply as for any rule."""
    return breaches(rule, expected_at(session, model, rule, labels, now), value)


def baseline_retention(model: Model, now: datetime) -> dict[tuple[str, str], datetime]:
    """Per series read by a baseline rule, how far back raw samples must be kept (history + a day)."""
    keep: dict[tuple[str, str], datetime] = {}
    for rule in model.baseline_rules().values():
        cutoff = now - rule.baseline.history - timedelta(days=1)
        key = (rule.flow, rule.signal)
        keep[key] = min(cutoff, keep.get(key, cutoff))
    return keep


def current_expectations(
    session: Session, model: Model, series: dict[tuple[str, str], list[str]], now: datetime
) -> list[tuple[str, BaselineRule, Expected]]:
    """(rule id, rule, expectation now) per baseline rule, for the first series of its signal.

    /metrics shows one band per rule: labelled series of one signal share the rule and usually
    the pattern, and one band keeps the label set of the gauges fixed.
    """
    out = []
    for rule_id, rule in sorted(model.baseline_rules().items()):
        labels = sorted(series.get((rule.flow, rule.signal), [])) or ["{}"]
        out.append((rule_id, rule, expected_at(session, model, rule, labels[0], now)))
    return out


def baseline_expectations(
    session: Session, model: Model, states: list[AlertState], now: datetime
) -> dict[tuple[str, str], Expected]:
    """What each firing (or just resolved) baseline alert expected, for the incident's message."""
    out = {}
    for state in states:
        rule = model.rules.get(state.rule)
        if isinstance(rule, BaselineRule) and (state.state == "firing" or state.resolved_at == now):
            out[(state.rule, state.labels)] = expected_at(session, model, rule, state.labels, now)
    return out


def alert_expectations(session: Session, model: Model, states: list[AlertState]) -> dict[tuple[str, str], ExpectedNote]:
    """What each pending or firing baseline alert expected at its last evaluation, worded for the API."""
    out = {}
    for state in states:
        rule = model.rules.get(state.rule)
        if not isinstance(rule, BaselineRule):
            continue
        signal = model.signal(rule.flow, rule.signal)
        at = state.updated_at if state.updated_at.tzinfo else state.updated_at.replace(tzinfo=UTC)
        expected = expected_at(session, model, rule, state.labels, at)
        out[(state.rule, state.labels)] = expected_note(
            expected, state.last_value, signal.kind, model.flows[rule.flow].average_value
        )
    return out
