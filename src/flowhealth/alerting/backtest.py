"""Replay a baseline rule over past samples: when it would have fired and resolved, and how often.

The replay evaluates the rule at every sample, with the same estimate (``baseline.estimate``) and
the same `for` / `keep_firing_for` semantics as the live evaluator, so tuning `by`, `for` and
`history` here predicts what the channel will see.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..model.baseline_rule import BaselineRule
from ..model.business_calendar import BusinessCalendar
from .baseline import Expected, SlotMean, breaches, estimate


@dataclass(frozen=True)
class Point:
    """One sample of the replayed series."""

    at: datetime
    value: float


class SeriesIndex:
    """Means over time slots of a sorted series, in O(log n) per slot."""

    def __init__(self, points: Sequence[Point]) -> None:
        self._times = [p.at.timestamp() for p in points]
        self._sums = [0.0]
        for p in points:
            self._sums.append(self._sums[-1] + p.value)

    def mean(self, start: datetime, end: datetime) -> float | None:
        lo = bisect.bisect_right(self._times, start.timestamp())
        hi = bisect.bisect_right(self._times, end.timestamp())
        return None if hi <= lo else (self._sums[hi] - self._sums[lo]) / (hi - lo)


@dataclass(frozen=True)
class Step:
    """The rule's view of one sample."""

    at: datetime
    value: float
    expected: Expected
    breached: bool
    firing: bool


@dataclass
class Alert:
    """One alert the rule would have raised."""

    fired_at: datetime
    resolved_at: datetime | None = None
    worst_value: float = 0.0
    expected_at_fire: Expected | None = None
    missing: float = 0.0  # sum over the alert of (expected - value) per sample, for money at risk

    def duration(self, end: datetime) -> timedelta:
        return (self.resolved_at or end) - self.fired_at


@dataclass
class Replay:
    """Every alert of a replay and the steps behind them."""

    rule_id: str
    steps: list[Step] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def learning_until(self) -> datetime | None:
        learning = [s.at for s in self.steps if s.expected.learning]
        return max(learning) if learning else None

    def longest(self) -> Alert | None:
        if not self.alerts or not self.steps:
            return None
        end = self.steps[-1].at
        return max(self.alerts, key=lambda a: a.duration(end))


def replay(
    rule_id: str,
    rule: BaselineRule,
    calendar: BusinessCalendar | None,
    points: Sequence[Point],
    *,
    since: datetime | None = None,
    slot_mean: SlotMean | None = None,
) -> Replay:
    """Evaluate `rule` at every point from `since` on; history before `since` only feeds the estimate."""
    reader = slot_mean or SeriesIndex(points).mean
    result = Replay(rule_id)
    pending_since: datetime | None = None
    last_true: datetime | None = None
    current: Alert | None = None
    pending_missing = 0.0  # volume missed while pending counts once the alert fires
    for point in points:
        if since is not None and point.at < since:
            continue
        expected = estimate(rule, calendar, point.at, reader)
        breached = breaches(rule, expected, point.value)
        missing = max(0.0, expected.value - point.value)
        if breached:
            last_true = point.at
            pending_since = pending_since or point.at
            if current is None:
                pending_missing += missing
                if point.at - pending_since >= rule.for_:
                    # Volume missed while pending belongs to the alert; this sample is added below.
                    current = Alert(point.at, worst_value=point.value, expected_at_fire=expected)
                    current.missing = pending_missing - missing
                    result.alerts.append(current)
        else:
            pending_since, pending_missing = None, 0.0
            if current is not None and last_true is not None and point.at - last_true >= rule.keep_firing_for:
                current.resolved_at = point.at
                current = None
        if current is not None:
            if abs(point.value - expected.value) > abs(current.worst_value - expected.value):
                current.worst_value = point.value
            current.missing += missing
        result.steps.append(Step(point.at, point.value, expected, breached, current is not None))
    return result
