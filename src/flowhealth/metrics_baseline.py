"""Baseline rules in /metrics: the expected value, its band and whether the rule is still learning."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from .alerting.baseline import Expected
from .model.baseline_rule import BaselineRule


def band_edge(rule: BaselineRule, expected: Expected, floor: float) -> float:
    """The edge of the expected band a baseline rule alerts past right now."""
    if expected.learning:
        return floor
    return expected.low if rule.below_expected is not None else expected.high


def baseline_families(expectations: list[tuple[str, BaselineRule, Expected]]) -> Iterator[GaugeMetricFamily]:
    """Expected value, band and learning state of each baseline rule, for dashboards and readiness."""
    labels = ["alertname", "flow", "signal"]
    expected = GaugeMetricFamily("flowhealth_baseline_expected", "What a baseline rule expects now.", labels=labels)
    lower = GaugeMetricFamily("flowhealth_baseline_lower", "Lower edge of the expected band.", labels=labels)
    upper = GaugeMetricFamily("flowhealth_baseline_upper", "Upper edge of the expected band.", labels=labels)
    learning = GaugeMetricFamily(
        "flowhealth_baseline_learning", "1 while a baseline rule lacks history and does not alert.", labels=labels
    )
    for rule_id, rule, e in expectations:
        key = [rule_id, rule.flow, rule.signal]
        learning.add_metric(key, 1.0 if e.learning else 0.0)
        if not e.learning:
            expected.add_metric(key, e.value)
            lower.add_metric(key, e.low)
            upper.add_metric(key, e.high)
    yield from (expected, lower, upper, learning)
