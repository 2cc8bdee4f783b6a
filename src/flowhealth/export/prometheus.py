"""The alert rules as Prometheus rule files: same thresholds, `for`, `keep_firing_for`, owners, links."""

from __future__ import annotations

from typing import Any

from ..links import Links, flow_dashboard_url
from ..metric_names import SIGNAL_METRICS
from ..model.durations import format_duration, format_number
from ..model.model import Model
from ..model.schema import SignalKind
from .availability import hold_term, no_data_rule, probe_failing_rules
from .templates import NotTranslatable, translate

# Labels Prometheus adds to ALERTS on top of the series' own; ignored when matching them back.
ALERT_ONLY_LABELS = ("alertname", "alertstate", "severity", "team")


# " EUR" after an amount when the series has a currency; nothing (no dangling space) otherwise.
CURRENCY_SUFFIX = "{{ with $labels.currency }} {{ . }}{{ end }}"

# Where annotations point is the same `Links` the notifications use (dashboards and runbooks).
ExportLinks = Links


def promql_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def selector(model: Model, rule_id: str) -> str:
    rule = model.rule(rule_id)
    metric = SIGNAL_METRICS[model.signal(rule.flow, rule.signal).kind][0]
    return f'{metric}{{flow="{rule.flow}", signal="{rule.signal}"}}'


def alert_expr(model: Model, rule_id: str) -> str:
    """The PromQL condition.

    Hysteresis keeps a firing alert until the value passes `recovery_threshold`; while the probe is
    down, a firing alert holds with its last value (flowhealth's "unknown holds state").
    """
    rule = model.rules[rule_id]
    direction, threshold = model.rule_threshold(rule_id)
    op = ">" if direction == "above" else "<"
    series = selector(model, rule_id)
    terms = [f"{series} {op} {promql_number(threshold)}"]
    ignoring = ", ".join([*ALERT_ONLY_LABELS, *sorted(rule.labels)])
    if rule.recovery_threshold is not None:
        firing = f'ALERTS{{alertname="{rule_id}", alertstate="firing"}}'
        terms.append(f"({series} {op} {promql_number(rule.recovery_threshold)} and ignoring ({ignoring}) {firing})")
    if hold := hold_term(model, rule_id, series, ignoring):
        terms.append(f"({hold})")
    return " or ".join(terms)


def rule_labels(model: Model, rule_id: str) -> dict[str, str]:
    rule = model.rules[rule_id]
    return {
        **dict(sorted(rule.labels.items())),
        "severity": rule.severity,
        "team": model.rule_owner(rule_id),
        "flow": rule.flow,
        "signal": rule.signal,
    }


def _literals(model: Model, rule_id: str) -> dict[str, str]:
    rule = model.rule(rule_id)
    signal = model.signal(rule.flow, rule.signal)
    _, threshold = model.rule_threshold(rule_id)
    shown = (
        format_duration(threshold)
        if signal.kind in (SignalKind.DELAY, SignalKind.STALENESS)
        else format_number(threshold)
    )
    return {
        "flow": rule.flow,
        "signal": rule.signal,
        "unit": signal.unit,
        "owner": model.rule_owner(rule_id),
        "severity": rule.severity,
        "threshold": shown,
        "threshold|duration": format_duration(threshold),
        "threshold|number": format_number(threshold),
    }


def value_template(model: Model, rule_id: str) -> str:
    """The alert's value as Slack shows it: a duration for time signals, else a number and its unit."""
    rule = model.rule(rule_id)
    signal = model.signal(rule.flow, rule.signal)
    if signal.kind.is_time:
        return "{{ $value | humanizeDuration }}"
    if signal.kind is SignalKind.MISMATCH_AMOUNT:
        return "{{ $value | humanize }}" + CURRENCY_SUFFIX
    return f"{{{{ $value | humanize }}}} {signal.unit}"


def rule_annotations(model: Model, rule_id: str, links: ExportLinks) -> dict[str, str]:
    rule = model.rule(rule_id)
    literals = _literals(model, rule_id)
    try:
        summary = translate(rule.summary, literals)
    except NotTranslatable:
        # The alert still says what and where; the exact wording lives in flowhealth's own message.
        summary = f"{rule_id}: {{{{ $labels.flow }}}}/{{{{ $labels.signal }}}} is {{{{ $value }}}}"
    try:
        description = translate(rule.business_impact, literals)
    except NotTranslatable:
        description = " ".join(rule.business_impact.replace("{", "(").replace("}", ")").split())
    return {
        "summary": summary,
        "description": description,
        "value": value_template(model, rule_id),
        "runbook_url": links.runbook(rule.runbook),
        "dashboard_url": flow_dashboard_url(links.grafana_url, rule.flow),
    }


Translated = dict[str, dict[str, str]]  # rule id -> its annotations, translated once per export


def annotations_of(model: Model, rule_id: str, links: ExportLinks, translated: Translated | None) -> dict[str, str]:
    """A rule's annotations; the rules file and its promtool tests share one translation per export."""
    if translated is None:
        return rule_annotations(model, rule_id, links)
    found = translated.get(rule_id)
    if found is None:
        found = translated[rule_id] = rule_annotations(model, rule_id, links)
    return found


def alerting_rule(
    model: Model, rule_id: str, links: ExportLinks, translated: Translated | None = None
) -> dict[str, Any]:
    rule = model.rules[rule_id]
    document: dict[str, Any] = {"alert": rule_id, "expr": alert_expr(model, rule_id)}
    if rule.for_.total_seconds():
        document["for"] = format_duration(rule.for_)
    if rule.keep_firing_for.total_seconds():
        document["keep_firing_for"] = format_duration(rule.keep_firing_for)
    document["labels"] = rule_labels(model, rule_id)
    # A copy: the YAML writer refuses an object written twice (PyYAML would anchor it).
    document["annotations"] = dict(annotations_of(model, rule_id, links, translated))
    return document


def alerting_groups(model: Model, links: ExportLinks, translated: Translated | None = None) -> list[dict[str, Any]]:
    """One group per flow: its rules sorted by name, their no-data twins, its probe-failing alerts."""
    groups = []
    for flow_id in sorted(model.flows):
        rule_ids = [r for r in model.rules_of(flow_id) if not model.is_baseline(r)]
        rules = [
            *(alerting_rule(model, r, links, translated) for r in rule_ids),
            *no_data_rules(model, rule_ids, links),
            *probe_failing_rules(model, flow_id, links),
        ]
        if rules:
            groups.append({"name": f"flowhealth-{flow_id}", "rules": rules})
    return groups


def no_data_rules(model: Model, rule_ids: list[str], links: ExportLinks) -> list[dict[str, Any]]:
    """The no-data twins of rules with `no_data: alerting`."""
    twins = (no_data_rule(model, r, links, rule_labels(model, r)) for r in rule_ids)
    return [twin for twin in twins if twin is not None]
