"""`promtool test rules` files pinning the edges of each exported alert: the evaluation its `for`
ends, the threshold itself, the last evaluation `keep_firing_for` holds (counted from the first false
evaluation), both ends of the hysteresis band, a probe outage, and the built-in probe-failing and
no-data alerts.

Expected annotations are rendered here with Python twins of Prometheus' `humanize` and
`humanizeDuration`, so the tests also prove the translated templates say what we think.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..metric_names import SIGNAL_METRICS
from ..model.model import PROBE_FAILING, Model
from .availability import PROBE_FAILURES, PROBE_UP, is_probed, no_data_after, no_data_rule, probe_failing_rules
from .prometheus import ExportLinks, Translated, annotations_of, rule_labels

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


_WITH_LABEL = re.compile(r"\{\{ with \$labels\.(\w+) \}\} \{\{ \. \}\}\{\{ end \}\}")
_LABEL = re.compile(r"\{\{ \$labels\.(\w+) \}\}")


def render(template: str, value: float, labels: dict[str, str]) -> str:
    """Render the subset of Go templates that `templates.translate` produces."""
    if "{{" not in template:
        return template  # most annotations: a URL or plain text
    text = _WITH_LABEL.sub(lambda m: f" {labels[m.group(1)]}" if labels.get(m.group(1)) else "", template)
    text = text.replace("{{ $value | humanizeDuration }}", humanize_duration(value))
    text = text.replace("{{ $value | humanize }}", humanize(value))
    text = text.replace("{{ $value }}", str(int(value)) if float(value).is_integer() else repr(value))
    return _LABEL.sub(lambda m: labels.get(m.group(1), ""), text)


def signal_series(model: Model, flow: str, signal: str) -> tuple[str, dict[str, str]]:
    """The value series of a signal as scraped (with example label values), and its labels."""
    columns = getattr(model.signal(flow, signal).probe, "label_columns", [])
    labels = {"flow": flow, "signal": signal, **SCRAPE_LABELS, **dict.fromkeys(columns, EXAMPLE_LABEL_VALUE)}
    return _series_text(SIGNAL_METRICS[model.signal(flow, signal).kind][0], labels), labels


def probe_series(model: Model, metric: str, flow: str, signal: str) -> tuple[str, dict[str, str]]:
    """A `flowhealth_probe_*` series of a signal as scraped, and its labels."""
    labels = {"flow": flow, "signal": signal, "kind": model.signal(flow, signal).probe.kind, **SCRAPE_LABELS}
    return _series_text(metric, labels), labels


def _series_text(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60)


def values(*runs: tuple[float | str, int]) -> str:
    """One sample a minute: `(value, minutes)` runs joined; a value may be 'stale' or '_'."""
    samples: list[str] = []
    for value, count in runs:
        samples += [value if isinstance(value, str) else _fmt(value)] * count
    return " ".join(samples)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _levels(model: Model, rule_id: str) -> tuple[float, float, float]:
    """(breaching, safe, step) values around the threshold."""
    rule = model.rules[rule_id]
    direction, threshold = model.rule_threshold(rule_id)
    step = 60.0 if model.signal(rule.flow, rule.signal).kind.is_time else 1.0
    if direction == "above":
        return threshold + step, max(threshold - step, 0.0), step
    return threshold - step, threshold + step, step


def expected_alert(
    annotations: dict[str, str], exp_labels: dict[str, str], labels: dict[str, str], value: float
) -> dict[str, Any]:
    """A firing alert of a model rule as promtool shows it: series and rule labels, annotations at `value`."""
    rendered = {k: render(v, value, labels) for k, v in annotations.items()}
    return {"exp_labels": dict(exp_labels), "exp_annotations": rendered}


def _case(
    name: str, alertname: str, series: list[tuple[str, str]], checks: list[tuple[int, list[dict[str, Any]]]]
) -> dict[str, Any]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [
            {"eval_time": f"{m}m", "alertname": alertname, "exp_alerts": alerts} for m, alerts in sorted(checks)
        ],
    }


def rule_test(
    model: Model, rule_id: str, links: ExportLinks, translated: Translated | None = None
) -> list[dict[str, Any]]:
    """The edge cases of one rule (minute 0 is the first sample; one evaluation a minute)."""
    rule = model.rules[rule_id]
    series, labels = signal_series(model, rule.flow, rule.signal)
    _, threshold = model.rule_threshold(rule_id)
    hot, safe, _ = _levels(model, rule_id)
    held = _minutes(rule.for_.total_seconds())
    keep = _minutes(rule.keep_firing_for.total_seconds())
    # A value that clears a firing alert: past the recovery threshold when there is one (its edge).
    clear = safe if rule.recovery_threshold is None else rule.recovery_threshold
    long = held + keep + 15

    # The same for every case of the rule: translated once, not once per expected alert.
    annotations = annotations_of(model, rule_id, links, translated)
    exp_labels = dict(sorted({**labels, **rule_labels(model, rule_id)}.items()))

    def firing(value: float) -> list[dict[str, Any]]:
        return [expected_alert(annotations, exp_labels, labels, value)]

    def case(name: str, runs: str, checks: list[tuple[int, list[dict[str, Any]]]], *extra: tuple[str, str]) -> Any:
        return _case(f"{rule_id}: {name}", rule_id, [(series, runs), *extra], checks)

    fired: list[tuple[int, list[dict[str, Any]]]] = (
        [(held, firing(hot))] if not held else [(held - 1, []), (held, firing(hot))]
    )
    cases = [
        case("fires at the first evaluation its 'for' has passed", values((hot, long)), fired),
        case("stays quiet on the safe side of the threshold", values((safe, long)), [(held, []), (held + 1, [])]),
        case("stays quiet at the threshold itself", values((threshold, long)), [(held, []), (held + 1, [])]),
        # The value clears at minute held + 1: keep_firing_for counts from that first false evaluation.
        case(
            "keeps firing for keep_firing_for from the first false evaluation, then resolves",
            values((hot, held + 1), (clear, keep + 10)),
            [(held + keep, firing(hot)), (held + keep + 1, [])],
        ),
    ]
    if rule.recovery_threshold is not None and rule.recovery_threshold != threshold:
        band = 5  # minutes at the threshold itself: inside the band, so a firing alert holds
        cases.append(
            case(
                "hysteresis: holds at the threshold, clears at recovery_threshold",
                values((hot, held + 1), (threshold, band), (clear, keep + 10)),
                [
                    (held + band, firing(threshold)),
                    (held + band + keep, firing(threshold)),
                    (held + band + keep + 1, []),
                ],
            )
        )
    if is_probed(model, rule.flow, rule.signal) and rule.no_data != "ok":
        up, _ = probe_series(model, PROBE_UP, rule.flow, rule.signal)
        outage = 5  # minutes the probe fails right after the alert fired: the value disappears
        cases.append(
            case(
                "holds while the probe is down, resolves once it measures a cleared value",
                values((hot, held + 1), ("stale", 1), ("_", outage - 1), (clear, keep + 10)),
                [(held + outage, firing(hot)), (held + outage + keep, firing(hot)), (held + outage + keep + 1, [])],
                (up, values((1, held + 1), (0, outage), (1, keep + 10))),
            )
        )
    cases.extend(_no_data_test(model, rule_id, links))
    return cases


def _no_data_test(model: Model, rule_id: str, links: ExportLinks) -> list[dict[str, Any]]:
    rule = model.rules[rule_id]
    twin = no_data_rule(model, rule_id, links, rule_labels(model, rule_id))
    if twin is None or not is_probed(model, rule.flow, rule.signal):
        return []
    up, labels = probe_series(model, PROBE_UP, rule.flow, rule.signal)
    after = _minutes(no_data_after(model, rule_id).total_seconds())
    alert = {
        "exp_labels": dict(sorted({**labels, **twin["labels"]}.items())),
        "exp_annotations": {k: render(v, 0, labels) for k, v in twin["annotations"].items()},
    }
    return [
        _case(
            f"{rule_id}: fires 'no data' once the probe has failed for no_data_after",
            rule_id,
            [(up, values((0, after + 5)))],
            [(after - 1, []), (after, [alert])],
        )
    ]


def probe_failing_test(model: Model, flow_id: str, links: ExportLinks) -> list[dict[str, Any]]:
    """The built-in probe-failing alerts fire at the run that reaches the failure threshold."""
    cases = []
    for rule in probe_failing_rules(model, flow_id, links):
        flow, signal = rule["labels"]["flow"], rule["labels"]["signal"]
        series, labels = probe_series(model, PROBE_FAILURES, flow, signal)
        reached = model.probe_failure_threshold
        alert = {
            "exp_labels": dict(sorted({**labels, **rule["labels"]}.items())),
            "exp_annotations": {k: render(v, reached, labels) for k, v in rule["annotations"].items()},
        }
        cases.append(
            _case(
                f"{PROBE_FAILING} {flow}/{signal}: fires at failed run {reached}, resolves when it works",
                PROBE_FAILING,
                [(series, f"0+1x{reached} 0x5")],
                [(reached - 1, []), (reached, [alert]), (reached + 1, [])],
            )
        )
    return cases


def rule_tests(
    model: Model, links: ExportLinks, rule_files: list[str], translated: Translated | None = None
) -> dict[str, Any]:
    """The whole `promtool test rules` file."""
    return tests_document(
        rule_files, promtool_cases(model, links, translated, sorted(model.rules), sorted(model.flows))
    )


def tests_document(rule_files: list[str], cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rule_files": rule_files, "evaluation_interval": "1m", "tests": cases}


def promtool_cases(
    model: Model, links: ExportLinks, translated: Translated | None, rule_ids: list[str], flow_ids: list[str]
) -> list[dict[str, Any]]:
    """The cases of these rules, then of these flows' failing probes, in the file's order."""
    cases = [
        case
        for rule_id in rule_ids
        if not model.is_baseline(rule_id)
        for case in rule_test(model, rule_id, links, translated)
    ]
    return cases + [case for flow_id in flow_ids for case in probe_failing_test(model, flow_id, links)]
