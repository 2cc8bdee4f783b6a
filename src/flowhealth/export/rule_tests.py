"""`promtool test rules` files proving each exported alert fires above and stays quiet below its threshold.

Expected annotations are rendered here with Python twins of Prometheus' `humanize` and
`humanizeDuration`, so the tests also prove the translated templates say what we think.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..model.model import Model
from .prometheus import ExportLinks, rule_annotations, rule_labels, selector

SCRAPE_LABELS = {"instance": "flowhealth:8000", "job": "flowhealth"}
EXAMPLE_LABEL_VALUE = "example"


def humanize(value: float) -> str:
    """Prometheus' `humanize` for values of at least 1 (and 0)."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return f"{value:.4g}"
    prefix = ""
    for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
        if abs(value) < 1000:
            break
        prefix, value = p, value / 1000
    return f"{value:.4g}{prefix}"


def humanize_duration(value: float) -> str:
    """Prometheus' `humanizeDuration` for values of at least one second (and 0)."""
    if value == 0:
        return "0s"
    sign, value = ("-", -value) if value < 0 else ("", value)
    whole = int(value)
    days, hours, minutes, seconds = whole // 86400, whole // 3600 % 24, whole // 60 % 60, whole % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{value:.4g}s"


def render(template: str, value: float, labels: dict[str, str]) -> str:
    """Render the subset of Go templates that `templates.translate` produces."""
    text = template.replace("{{ $value | humanizeDuration }}", humanize_duration(value))
    text = text.replace("{{ $value | humanize }}", humanize(value))
    text = text.replace("{{ $value }}", str(int(value)) if float(value).is_integer() else repr(value))
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)


def _series(model: Model, rule_id: str) -> tuple[str, dict[str, str]]:
    rule = model.rules[rule_id]
    columns = getattr(model.signal(rule.flow, rule.signal).probe, "label_columns", [])
    labels = {"flow": rule.flow, "signal": rule.signal, **SCRAPE_LABELS, **dict.fromkeys(columns, EXAMPLE_LABEL_VALUE)}
    metric = selector(model, rule_id).split("{")[0]
    body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{body}}}", labels


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60)


def _values(*runs: tuple[float, int]) -> str:
    """One sample a minute: `(value, minutes)` runs joined."""
    return " ".join(_fmt(value) for value, count in runs for _ in range(count))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _levels(model: Model, rule_id: str) -> tuple[float, float, float]:
    """(breaching, quiet, step) values around the threshold."""
    rule = model.rules[rule_id]
    direction, threshold = model.rule_threshold(rule_id)
    step = 60.0 if model.signal(rule.flow, rule.signal).kind.is_time else 1.0
    if direction == "above":
        return threshold + step, max(threshold - step, 0.0), step
    return threshold - step, threshold + step, step


def rule_test(model: Model, rule_id: str, links: ExportLinks) -> list[dict[str, Any]]:
    """Test cases for one rule: fires when breached long enough, quiet otherwise, keeps firing, hysteresis."""
    rule = model.rules[rule_id]
    series, labels = _series(model, rule_id)
    hot, quiet, step = _levels(model, rule_id)
    held = _minutes(rule.for_.total_seconds())
    keep = _minutes(rule.keep_firing_for.total_seconds())
    alert_labels = {**{k: v for k, v in labels.items()}, **rule_labels(model, rule_id)}

    def firing(value: float) -> list[dict[str, Any]]:
        rendered = {k: render(v, value, labels) for k, v in rule_annotations(model, rule_id, links).items()}
        return [{"exp_labels": dict(sorted(alert_labels.items())), "exp_annotations": rendered}]

    def case(name: str, values: str, checks: list[tuple[int, list[dict[str, Any]]]]) -> dict[str, Any]:
        return {
            "name": f"{rule_id}: {name}",
            "interval": "1m",
            "input_series": [{"series": series, "values": values}],
            "alert_rule_test": [
                {"eval_time": f"{m}m", "alertname": rule_id, "exp_alerts": alerts} for m, alerts in checks
            ],
        }

    long = held + keep + 15
    cases = [
        case("fires once breached for its 'for'", _values((hot, long)), [(held + 1, firing(hot))]),
        case("stays quiet on the safe side of the threshold", _values((quiet, long)), [(held + 1, [])]),
    ]
    if held > 1:
        cases.append(case("waits for its 'for' before firing", _values((hot, long)), [(held - 1, [])]))
    if keep:
        # The value recovers after the alert fired; the alert holds for keep_firing_for, then resolves.
        cases.append(
            case(
                "keeps firing for keep_firing_for after it clears",
                _values((hot, held + 2), (quiet, keep + 10)),
                [(held + 2 + keep - 1, firing(hot)), (held + 2 + keep + 2, [])],
            )
        )
    if rule.recovery_threshold is not None:
        direction, threshold = model.rule_threshold(rule_id)
        middle = (threshold + rule.recovery_threshold) / 2
        cleared = max(rule.recovery_threshold - step, 0.0) if direction == "above" else rule.recovery_threshold + step
        cases.append(
            case(
                "hysteresis: holds between recovery_threshold and threshold, clears past it",
                _values((hot, held + 2), (middle, 6), (cleared, keep + 6)),
                [(held + 6, firing(middle)), (held + 8 + keep + 2, [])],
            )
        )
    return cases


def rule_tests(model: Model, links: ExportLinks, rule_files: list[str]) -> dict[str, Any]:
    """The whole `promtool test rules` file."""
    return {
        "rule_files": rule_files,
        "evaluation_interval": "1m",
        "tests": [
            case
            for rule_id in sorted(model.rules)
            if not model.is_baseline(rule_id)
            for case in rule_test(model, rule_id, links)
        ],
    }
