"""Alert examples: each rule of a flow as a firing incident, rendered by the real Slack and console
renderers, so the pack shows exactly what the on-call engineer will get.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..alerting.enums import MemberStatus
from ..alerting.view import Member, incident_view
from ..evidence import EvidenceTable
from ..links import Links
from ..model.model import Model
from ..model.probes import ContractProbe, PrometheusProbe, ReconcileProbe, SqlProbe, TraceProbe
from ..notify.blocks import fallback_text, incident_blocks
from ..notify.console import render_incident
from ..probes.contract import FailingPayload
from ..probes.contract import evidence_table as contract_evidence_table
from ..store.tables import AlertState, Incident
from ..store.types import labels_key


@dataclass(frozen=True)
class AlertExample:
    """One rule as its first notification: Slack blocks, Slack fallback text and console text."""

    rule: str
    labels: dict[str, str]
    slack_blocks: list[dict[str, Any]]
    slack_text: str
    console: str


def example_labels(model: Model, flow_id: str, signal_id: str, texts: tuple[str, ...] = ()) -> dict[str, str]:
    """Plausible label values for a signal's series, so summaries that name labels render."""
    labels = _probe_labels(model, flow_id, signal_id)
    for text in texts:  # any other label a rule text names gets a placeholder
        for name in re.findall(r"labels\.([A-Za-z_][A-Za-z0-9_]*)", text):
            labels.setdefault(name, f"<{name}>")
    return labels


def _probe_labels(model: Model, flow_id: str, signal_id: str) -> dict[str, str]:
    probe = model.signal(flow_id, signal_id).probe
    if isinstance(probe, ContractProbe) or (isinstance(probe, TraceProbe) and probe.measure == "contract_violations"):
        return {"field": "shipping_address.country", "reason": "pattern"}
    if isinstance(probe, ReconcileProbe):
        return (
            {"mismatch": "missing_in_target", "currency": "EUR"}
            if probe.measure == "mismatches"
            else {"currency": "EUR"}
        )
    if isinstance(probe, TraceProbe) and probe.measure == "rejections":
        return {"stage": "accepted", "reason": "example"}
    if isinstance(probe, SqlProbe | PrometheusProbe):
        return {name: f"<{name}>" for name in probe.label_columns}
    return {}


def _example_value(direction: str, threshold: float) -> float:
    if direction == "below":
        return threshold / 2
    return threshold * 2 if threshold > 0 else threshold + 3


def _example_evidence(model: Model, flow_id: str, signal_id: str) -> EvidenceTable | None:
    contract = model.contracts.get(flow_id)
    probe = model.signal(flow_id, signal_id).probe
    if contract is None or contract.example is None or not isinstance(probe, ContractProbe):
        return None
    sample = FailingPayload("example", [], contract.redact(contract.example))
    return contract_evidence_table(contract, probe.key or "record", [sample])


def alert_examples(model: Model, links: Links, flow_id: str, now: datetime) -> list[AlertExample]:
    """Every rule of the flow as the first message of an incident (#1), firing since a few minutes."""
    out = []
    for number, rule_id in enumerate(model.rules_of(flow_id), start=1):
        rule = model.rules[rule_id]
        owner = model.rule_owner(rule_id)
        direction, threshold = model.rule_threshold(rule_id)
        labels = example_labels(model, flow_id, rule.signal, (rule.summary, rule.business_impact))
        since = now - rule.for_ - timedelta(minutes=5)
        evidence = _example_evidence(model, flow_id, rule.signal)
        state = AlertState(
            rule=rule_id,
            labels=labels_key(labels) if labels else "{}",
            owner=owner,
            state="firing",
            last_value=_example_value(direction, threshold),
            firing_since=since,
            pending_since=since,
            evidence=evidence.model_dump_json() if evidence else None,
            updated_at=now,
        )
        incident = Incident(
            id=number,
            team=owner,
            group_key=f"{owner}|{flow_id}",
            status="open",
            severity=rule.severity,
            opened_at=since,
            updated_at=now,
        )
        view = incident_view(model, links, incident, [Member(state, MemberStatus.ACTIVE)], [], now)
        out.append(AlertExample(rule_id, labels, incident_blocks(view), fallback_text(view), render_incident(view)))
    return out
