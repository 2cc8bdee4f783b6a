"""What the flow board shows: every flow's owner, status, signals against thresholds, incidents, fixes today."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..alerting.enums import AlertState as State
from ..alerting.payload import Links, format_value
from ..alerting.silences import active_silences, identity, matchers_of, silencing
from ..alerting.view import stored_evidence
from ..model.durations import human_duration
from ..model.model import Model
from ..store.records import Intervention
from ..store.samples import current_values
from ..store.tables import AlertState, Incident, SignalValue, Silence
from ..store.types import labels_of
from .board_acks import AckSources, ack_sources
from .board_baseline import Bands, alert_expected, band_threshold, bands_now
from .board_delivery import delivery_problems
from .board_evidence import evidence_keys
from .history import incident_flow

STATUS_ORDER = {"firing": 0, "pending": 1, "silenced": 2, "no data": 3, "ok": 4}


def _thresholds(model: Model, flow_id: str, signal_id: str, bands: Bands) -> list[dict[str, Any]]:
    out = []
    for rule_id in model.rules_of(flow_id, signal_id):
        if rule_id in bands:
            out.append(band_threshold(model, rule_id, bands[rule_id]))  # the band moves with the time of week
            continue
        direction, threshold = model.rule_threshold(rule_id)
        out.append(
            {"rule": rule_id, "direction": direction, "value": threshold, "severity": model.rules[rule_id].severity}
        )
    return out


def _breached(value: float | None, thresholds: list[dict[str, Any]]) -> bool:
    if value is None:
        return False
    return any(
        value > t["value"] if t["direction"] == "above" else value < t["value"]
        for t in thresholds
        if t["value"] is not None  # a learning baseline holds the value to nothing yet
    )


def _signals(model: Model, flow_id: str, values: list[SignalValue], bands: Bands) -> list[dict[str, Any]]:
    out = []
    for signal_id, signal in sorted(model.flows[flow_id].signals.items()):
        thresholds = _thresholds(model, flow_id, signal_id, bands)
        for t in thresholds:
            t.setdefault("text", f"{t['direction']} {format_value(t['value'], signal.unit, {})}")
        series = [v for v in values if v.flow == flow_id and v.signal == signal_id]
        out.append(
            {
                "signal": signal_id,
                "kind": signal.kind.value,
                "description": signal.description,
                "thresholds": thresholds,
                "series": [
                    {
                        "labels": labels_of(v.labels),
                        "value": v.value,
                        "text": format_value(v.value, signal.unit, labels_of(v.labels)),
                        "breached": _breached(v.value, thresholds),
                        "observed_at": v.observed_at.isoformat(),
                    }
                    for v in series
                ],
            }
        )
    return out


def _status(alerts: list[tuple[AlertState, bool]], signals: list[dict[str, Any]]) -> str:
    firing = [silenced for state, silenced in alerts if state.state == "firing"]
    if firing and not all(firing):
        return "firing"
    if any(state.state == "pending" for state, _ in alerts):
        return "pending"
    if firing:
        return "silenced"
    if not any(s["value"] is not None for sig in signals for s in sig["series"]):
        return "no data"
    return "ok"


def _incident(
    model: Model, links: Links, incident: Incident, states: list[AlertState], now: datetime, acks: AckSources
) -> dict[str, Any]:
    rules = sorted({s.rule for s in states if s.incident_id == incident.id and s.rule in model.all_rules()})
    runbooks = sorted({model.rule(r).runbook for r in rules})
    acked = incident.acked_by is not None and (incident.ack_expires_at is None or incident.ack_expires_at > now)
    source = acks.get(incident.id) if acked and incident.id is not None else None
    return {
        "id": incident.id,
        "url": f"/incidents/{incident.id}",
        "severity": incident.severity,
        "team": incident.team,
        "opened_at": incident.opened_at.isoformat(),
        "age": human_duration(now - incident.opened_at),
        "acked": acked,
        "acked_by": incident.acked_by if acked else None,
        # Where (slack, pagerduty, api, cli) and how the page says it ("Slack", "the API").
        "acked_via": source.value if source else None,
        "acked_where": source.label if source else None,
        "escalations": incident.escalations,
        "rules": rules,
        "runbooks": [{"id": rb, "url": links.runbook(rb)} for rb in runbooks],
    }


def _silence_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "author": silence.author,
        "reason": silence.reason,
        "until": silence.ends_at.isoformat(),
        "matchers": matchers_of(silence),
    }


def _silence_of(silences: list[Silence], model: Model, state: AlertState) -> dict[str, Any] | None:
    found = silencing(silences, identity(model, state.rule, state.owner))
    return _silence_json(found) if found else None


def _flow_silences(model: Model, flow_id: str, silences: list[Silence]) -> list[dict[str, Any]]:
    """Active silences that mute at least one rule of the flow."""
    rules = [r for r, rule in model.all_rules().items() if rule.flow == flow_id]
    return [
        _silence_json(s)
        for s in silences
        if any(identity(model, r, model.rule_owner(r)).matched_by(matchers_of(s)) for r in rules)
    ]


def board_data(model: Model, engine: Engine, now: datetime, links: Links) -> dict[str, Any]:
    """The board as data: the HTML page and /api/v1/board both render this."""
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    with Session(engine) as session:
        values = current_values(session)
        states = list(session.exec(select(AlertState)).all())
        incidents = list(session.exec(select(Incident).where(Incident.status == "open")).all())
        silences = active_silences(session, now)
        fixes = list(session.exec(select(Intervention).where(col(Intervention.performed_at) >= midnight)).all())
        bands = bands_now(session, model, values, now)
        delivery = delivery_problems(session, now)
        acks = ack_sources(session, [i.id for i in incidents if i.id is not None])
    rules = model.all_rules()
    flows: list[dict[str, Any]] = []
    for flow_id, flow in sorted(model.flows.items()):
        alerts = [
            (s, silencing(silences, identity(model, s.rule, s.owner)) is not None)
            for s in states
            if s.rule in rules and rules[s.rule].flow == flow_id and s.state in ("pending", "firing")
        ]
        signals = _signals(model, flow_id, values, bands)
        team = model.teams.get(flow.owner)
        today = [i for i in fixes if i.flow == flow_id]
        flows.append(
            {
                "flow": flow_id,
                "description": flow.description,
                "object": flow.object,
                "criticality": flow.criticality,
                "owner": {"team": flow.owner, "name": team.name if team and team.name else flow.owner},
                "status": _status(alerts, signals),
                "alerts": [
                    {
                        "rule": s.rule,
                        "state": s.state,
                        "incident": s.incident_id,
                        "silenced": silenced,
                        "owner": s.owner,
                        "value": format_value(
                            s.last_value, model.signal(flow_id, rules[s.rule].signal).unit, labels_of(s.labels)
                        ),
                        # A series that fired before keeps its old firing_since while pending again.
                        "since": human_duration(
                            now - ((s.firing_since if s.state == State.FIRING else s.pending_since) or now)
                        ),
                        "silence": _silence_of(silences, model, s),
                        "expected": alert_expected(model, s, bands),
                        "runbook": {"id": rules[s.rule].runbook, "url": links.runbook(rules[s.rule].runbook)},
                        "evidence": evidence_keys(stored_evidence(s)),
                    }
                    for s, silenced in sorted(alerts, key=lambda a: (a[0].state != "firing", a[0].rule))
                ],
                "signals": signals,
                "incidents": [
                    _incident(model, links, i, states, now, acks)
                    for i in sorted(incidents, key=lambda i: i.opened_at)
                    if incident_flow(model, i.group_key) == flow_id
                ],
                "interventions_today": {"count": len(today), "by_reason": dict(Counter(i.reason for i in today))},
                "silences": _flow_silences(model, flow_id, silences),
            }
        )
    flows.sort(key=lambda f: (STATUS_ORDER[f["status"]], f["flow"]))
    return {
        "generated_at": now.isoformat(),
        "counts": dict(Counter(f["status"] for f in flows)),
        "delivery": [problem.model_dump() for problem in delivery],
        "flows": flows,
    }
