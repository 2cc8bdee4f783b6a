"""What a notification says about an alert: everything the on-call engineer needs, as data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..links import flow_dashboard_url
from ..model.durations import format_duration
from ..model.model import Model
from ..model.templates import render
from ..model.units import format_quantity


@dataclass(frozen=True)
class Links:
    """Where runbooks and dashboards live for this deployment."""

    public_url: str
    grafana_url: str
    runbook_base_url: str | None = None

    def runbook(self, runbook_id: str) -> str:
        base = self.runbook_base_url or f"{self.public_url.rstrip('/')}/runbooks/"
        return f"{base.rstrip('/')}/{runbook_id}"

    def incident(self, number: int) -> str:
        """The incident's page on this service: its timeline, evidence and runbook."""
        return f"{self.public_url.rstrip('/')}/incidents/{number}"


def format_value(value: float | None, unit: str, labels: dict[str, str]) -> str:
    """A series' value in human units (`550 ms`, `1 payload`); amounts carry the series' currency."""
    return format_quantity(value, unit, labels.get("currency", ""))


def build_payload(
    model: Model,
    links: Links,
    *,
    rule_id: str,
    labels: dict[str, str],
    kind: str,
    value: float | None,
    since: datetime,
    now: datetime,
    incident: int,
    owner: str,
    evidence: dict[str, Any] | None = None,
    summary_value: float | None = None,
) -> dict[str, Any]:
    """The JSON stored in the outbox; notifiers render it, the review reads it."""
    rule = model.rule(rule_id)
    flow = model.flows[rule.flow]
    signal = flow.signals[rule.signal]
    direction, threshold = model.rule_threshold(rule_id)
    team = model.teams[owner]
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
    return {
        "kind": kind,
        "rule": rule_id,
        "incident": incident,
        "flow": rule.flow,
        "flow_description": " ".join(flow.description.split()),
        "signal": rule.signal,
        "signal_description": " ".join(signal.description.split()),
        "severity": rule.severity,
        "labels": labels,
        "summary": render(rule.summary, context),
        "business_impact": " ".join(render(rule.business_impact, context).split()),
        "value": value,
        "value_text": format_value(value, signal.unit, labels),
        "threshold": threshold,
        "threshold_text": format_value(threshold, signal.unit, labels),
        "direction": direction,
        "since": since.isoformat(),
        "at": now.isoformat(),
        "duration_text": format_duration(max(0.0, (now - since).total_seconds())),
        "owner": {
            "team": owner,
            "name": team.name or owner,
            "channel": team.slack_channel,
            "oncall": team.oncall,
        },
        "runbook": {
            "id": rule.runbook,
            "title": runbook.title if runbook else rule.runbook,
            "url": links.runbook(rule.runbook),
        },
        "dashboard_url": flow_dashboard_url(links.grafana_url, rule.flow),
        "incident_url": links.incident(incident),
        "evidence": evidence,
    }
