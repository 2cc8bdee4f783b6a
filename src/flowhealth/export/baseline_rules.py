"""Baseline rules as Prometheus recording and alerting rules, so the Prometheus side agrees.

For each baseline rule, recording rules compute what flowhealth computes:

* `flowhealth:baseline_expected` — the median over the last N seasons of the signal's mean in
  the slot of width `resolution` ending at the same time (`avg_over_time(m[5m] offset 1w)`,
  `... offset 2w`, ...), present only once `min_seasons` of them have data (learning otherwise);
* `flowhealth:baseline_lower` / `flowhealth:baseline_upper` — the band: the wider of the rule's
  relative deviation and `tolerance` x 1.4826 x the median absolute deviation;

and one alerting rule per rule compares the signal with them, with the rule's `for`.

Two things Prometheus does not know, documented in docs/decisions.md: the business calendar
(promotions and closures apply in flowhealth only), and wall-clock seasons (`offset 1w` is 168h,
so in the week after a daylight-saving change the slot is one hour off from flowhealth's).
"""

from __future__ import annotations

from typing import Any

from ..model.baseline_rule import BaselineRule, Estimate
from ..model.durations import format_duration
from ..model.model import Model
from .prometheus import ExportLinks, promql_number, rule_annotations, rule_labels, selector

EXPECTED, LOWER, UPPER = "flowhealth:baseline_expected", "flowhealth:baseline_lower", "flowhealth:baseline_upper"
MAD_TO_SIGMA = 1.4826


def _range(rule: BaselineRule) -> str:
    # (t - resolution, t], as flowhealth reads slots: Prometheus 2 includes both ends, so 1ms short.
    return f"{round(rule.baseline.resolution.total_seconds() * 1000) - 1}ms"


def _offset(rule: BaselineRule, k: int) -> str:
    season = rule.baseline.season
    return f"{k}w" if season.value == "weekly" else f"{k}d"


def _slots(model: Model, rule_id: str, rule: BaselineRule, template: str) -> str:
    """`template` applied to each season's slot, labelled season="k", joined with `or`."""
    series = selector(model, rule_id)
    parts = []
    for k in range(1, rule.baseline.seasons + 1):
        slot = f"avg_over_time({series}[{_range(rule)}] offset {_offset(rule, k)})"
        parts.append(f'label_replace({template.replace("{slot}", slot)}, "season", "{k}", "", "")')
    return " or ".join(parts)


def baseline_recording(model: Model, rule_id: str, rule: BaselineRule) -> list[dict[str, Any]]:
    """Expected value and band of one rule, in evaluation order."""
    spec = rule.baseline
    tag = {"rule": rule_id}
    slots = _slots(model, rule_id, rule, "{slot}")
    center = f"quantile without (season) (0.5, {slots})"
    if spec.estimate is Estimate.TRIMMED_MEAN and spec.seasons < 10:
        # flowhealth drops the lowest and the highest value from 4 to 9 seasons (the median below 4).
        each = [f"{how} without (season) ({slots})" for how in ("sum", "max", "min", "count")]
        trimmed = f"({each[0]} - {each[1]} - {each[2]}) / ({each[3]} - 2)"
        center = f"(({trimmed}) and ({each[3]} >= 4)) or ({center})"
    learned = f"count without (season) ({slots}) >= {spec.min_seasons}"
    expected_expr = f"{center} and {learned}"
    mine = f'{EXPECTED}{{rule="{rule_id}"}}'
    deviations = _slots(model, rule_id, rule, f"abs({{slot}} - ignoring (rule) {mine})")
    sigma = f"{promql_number(MAD_TO_SIGMA * spec.tolerance)} * quantile without (season) (0.5, {deviations})"
    lower = f"{mine} - ignoring (rule) ({sigma})"
    upper = f"{mine} + ignoring (rule) ({sigma})"
    if rule.below_expected is not None:
        relative = f"{mine} * {promql_number(1 - rule.below_expected.by)}"
        lower = f"(({lower}) < ({relative})) or ({relative})"
    if rule.above_expected is not None:
        relative = f"{mine} * {promql_number(1 + rule.above_expected.by)}"
        upper = f"(({upper}) > ({relative})) or ({relative})"
    return [
        {"record": EXPECTED, "expr": expected_expr, "labels": dict(tag)},
        {"record": LOWER, "expr": f"clamp_min({lower}, 0)", "labels": dict(tag)},
        {"record": UPPER, "expr": upper, "labels": dict(tag)},
    ]


def baseline_alert(model: Model, rule_id: str, rule: BaselineRule, links: ExportLinks) -> dict[str, Any]:
    """The alerting rule: outside the band, on the sides the rule watches, held for `for`."""
    series = selector(model, rule_id)
    conditions = []
    if rule.below_expected is not None:
        conditions.append(
            f'{series} < ignoring (rule) {LOWER}{{rule="{rule_id}"}}'
            f' and ignoring (rule) {EXPECTED}{{rule="{rule_id}"}} >= {promql_number(rule.below_expected.min_expected)}'
        )
    if rule.above_expected is not None:
        conditions.append(
            f'{series} > ignoring (rule) {UPPER}{{rule="{rule_id}"}}'
            f" and {series} >= {promql_number(rule.above_expected.min_expected)}"
        )
    document: dict[str, Any] = {"alert": rule_id, "expr": " or ".join(f"({c})" for c in conditions)}
    if rule.for_.total_seconds():
        document["for"] = format_duration(rule.for_)
    if rule.keep_firing_for.total_seconds():
        document["keep_firing_for"] = format_duration(rule.keep_firing_for)
    document["labels"] = rule_labels(model, rule_id)
    document["annotations"] = rule_annotations(model, rule_id, links)
    return document


def baseline_groups(model: Model, links: ExportLinks) -> list[dict[str, Any]]:
    """One group per baseline rule: its recordings first, then its alert."""
    groups = []
    for rule_id, rule in sorted(model.baseline_rules().items()):
        rules = [*baseline_recording(model, rule_id, rule), baseline_alert(model, rule_id, rule, links)]
        groups.append({"name": f"flowhealth-baseline-{rule_id}", "rules": rules})
    return groups
