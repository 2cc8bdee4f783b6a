"""One alert as its message shows it: value against threshold, impact, owner, links, evidence."""

from __future__ import annotations

from datetime import datetime

from ..evidence import EvidenceTable
from ..links import Links, flow_dashboard_url
from ..model.durations import human_duration
from ..model.mentions import team_call
from ..model.model import Model
from ..model.templates import render
from ..model.units import format_quantity
from .view_models import AlertKind, AlertView, Owner, RunbookLink

__all__ = ["Links", "build_alert", "format_value", "owner_of"]


def format_value(value: float | None, unit: str, labels: dict[str, str]) -> str:
    """A series' value in human units (`550 ms`, `1 payload`); amounts carry the series' currency."""
    return format_quantity(value, unit, labels.get("currency", ""))


def owner_of(model: Model, team_id: str) -> Owner:
    team = model.teams[team_id]
    return Owner(team=team_id, name=team.name or team_id, channel=team.slack_channel, oncall=team_call(team))


def build_alert(
    model: Model,
    links: Links,
    *,
    rule_id: str,
    labels: dict[str, str],
    kind: AlertKind,
    value: float | None,
    since: datetime,
    now: datetime,
    incident: int,
    owner: str,
    evidence: EvidenceTable | None = None,
    summary_value: float | None = None,
) -> AlertView:
    """An alert's part of a message; notifiers render it, the review reads it."""
    rule = model.rule(rule_id)
    flow = model.flows[rule.flow]
    signal = flow.signals[rule.signal]
    direction, threshold = model.rule_threshold(rule_id)
    runbook = model.runbooks.get(rule.runbook)
    # A resolved message keeps the summary it fired with; the value at resolve is shown beside it.
    context = {
        "value": value if summary_value is None else summary_value,
        "threshold": threshold,
        "flow": rule.flow,
        "signal": rule.signal,
        "unit": signal.unit,
        "labels": labels,
        "owner": owner,
        "severity": rule.severity,
        "since": since.isoformat(),
    }
    return AlertView(
        kind=kind,
        rule=rule_id,
        incident=incident,
        flow=rule.flow,
        flow_description=" ".join(flow.description.split()),
        signal=rule.signal,
        signal_description=" ".join(signal.description.split()),
        severity=rule.severity,
        labels=labels,
        summary=render(rule.summary, context),
        business_impact=" ".join(render(rule.business_impact, context).split()),
        value=value,
        value_text=format_value(value, signal.unit, labels),
        threshold=threshold,
        threshold_text=format_value(threshold, signal.unit, labels),
        direction="above" if direction == "above" else "below",
        unit=signal.unit,
        since=since,
        at=now,
        duration_text=human_duration(max(0.0, (now - since).total_seconds())),
        owner=owner_of(model, owner),
        runbook=RunbookLink(
            id=rule.runbook, title=runbook.title if runbook else rule.runbook, url=links.runbook(rule.runbook)
        ),
        dashboard_url=flow_dashboard_url(links.grafana_url, rule.flow),
        incident_url=links.incident(incident),
        evidence=evidence,
    )
