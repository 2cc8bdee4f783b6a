"""The alert rules as Prometheus rule files: same thresholds, `for`, `keep_firing_for`, owners, links."""

from __future__ import annotations

from typing import Any

from ..links import Links, flow_dashboard_url
from ..metrics import SIGNAL_METRICS
from ..model.durations import format_duration, format_number
from ..model.model import Model
from ..model.schema import SignalKind
from .templates import NotTranslatable, translate

# Labels Prometheus adds to ALERTS on top of the series' own; ignored when matching them back.
ALERT_ONLY_LABELS = ("alertname", "alertstate", "severity", "team")


# Where annotations point is the same `Links` the notifications use (dashboards and runbooks).
ExportLinks = Links


def promql_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def selector(model: Model, rule_id: str) -> str:
    rule = model.rules[rule_id]
    metric = SIGNAL_METRICS[model.signal(rule.flow, rule.signal).kind][0]
    return f'{metric}{{flow="{rule.flow}", signal="{rule.signal}"}}'


def alert_expr(model: Model, rule_id: str) -> str:
    """The PromQL condition; hysteresis keeps a firing alert until the value passes `recovery_threshold`."""
    rule = model.rules[rule_id]
    direction, threshold = model.rule_threshold(rule_id)
    op = ">" if direction == "above" else "<"
    series = selector(model, rule_id)
    expr = f"{series} {op} {promql_number(threshold)}"
    if rule.recovery_threshold is None:
        return expr
    ignoring = ", ".join([*ALERT_ONLY_LABELS, *sorted(rule.labels)])
    firing = f'ALERTS{{alertname="{rule_id}", alertstate="firing"}}'
    return f"{expr} or ({series} {op} {promql_number(rule.recovery_threshold)} and ignoring ({ignoring}) {firing})"


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
    rule = model.rules[rule_id]
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


def rule_annotations(model: Model, rule_id: str, links: ExportLinks) -> dict[str, str]:
    rule = model.rules[rule_id]
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
        "runbook_url": links.runbook(rule.runbook),
        "dashboard_url": flow_dashboard_url(links.grafana_url, rule.flow),
    }


def alerting_rule(model: Model, rule_id: str, links: ExportLinks) -> dict[str, Any]:
    rule = model.rules[rule_id]
    document: dict[str, Any] = {"alert": rule_id, "expr": alert_expr(model, rule_id)}
    if rule.for_.total_seconds():
        document["for"] = format_duration(rule.for_)
    if rule.keep_firing_for.total_seconds():
        document["keep_firing_for"] = format_duration(rule.keep_firing_for)
    document["labels"] = rule_labels(model, rule_id)
    document["annotations"] = rule_annotations(model, rule_id, links)
    return document


def alerting_groups(model: Model, links: ExportLinks) -> list[dict[str, Any]]:
    """One group per flow, rules sorted by name."""
    groups = []
    for flow_id in sorted(model.flows):
        rules = sorted(r for r, rule in model.rules.items() if rule.flow == flow_id)
        if rules:
            groups.append({"name": f"flowhealth-{flow_id}", "rules": [alerting_rule(model, r, links) for r in rules]})
    return groups
