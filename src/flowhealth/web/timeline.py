"""An incident's history as a timeline: every transition of its alerts and every action on it, in order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, or_, select

from ..alerting.enums import ActionSource
from ..alerting.incidents import group_matchers
from ..alerting.payload import format_value
from ..hypercare.history import incident_flow
from ..model.model import Model
from ..store.records import Intervention
from ..store.tables import AlertEvent, AlertState, Incident, IncidentEvent, Silence
from ..store.types import labels_of


class Step(StrEnum):
    """What happened to the incident or one of its alerts."""

    OPENED = "opened"
    FIRED = "fired"
    JOINED = "joined"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    ACKED = "acked"
    ACK_EXPIRED = "ack expired"
    SILENCED = "silenced"
    FIXED = "fixed by hand"
    ALERT_RESOLVED = "alert resolved"
    RESOLVED = "resolved"
    OTHER = "other"


_INCIDENT_STEPS = {
    "opened": Step.OPENED,
    "notified": Step.NOTIFIED,
    "escalated": Step.ESCALATED,
    "acked": Step.ACKED,
    "ack_expired": Step.ACK_EXPIRED,
    "silenced": Step.SILENCED,
    "resolved": Step.RESOLVED,
}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    step: Step
    text: str
    actor: str | None = None
    rule: str | None = None
    value: str | None = None


def incident_rules(model: Model, incident: Incident, states: list[AlertState]) -> set[str]:
    """Rules whose alerts the incident is about: its members, and whatever its group key matches for its team."""
    group = group_matchers(incident.group_key)
    rules = {s.rule for s in states if s.incident_id == incident.id}
    # Built-in probe-failing rules join only as members: matching every flow's one per signal is noise.
    for rule_id, rule in model.rules.items():
        if model.rule_owner(rule_id) != incident.team:
            continue
        values = {"flow": rule.flow, "rule": rule_id, "signal": f"{rule.flow}/{rule.signal}", "team": incident.team}
        if group and all(values.get(k) == v for k, v in group.items()):
            rules.add(rule_id)
    return rules


def unit_text(model: Model, rule_id: str, value: float | None, labels: str) -> str:
    if rule_id not in model.all_rules():
        return "unknown" if value is None else f"{value:g}"
    rule = model.rule(rule_id)
    return format_value(value, model.signal(rule.flow, rule.signal).unit, labels_of(labels))


_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)")


def _human_time(match: re.Match[str]) -> str:
    return datetime.fromisoformat(match.group(0)).strftime("%Y-%m-%d %H:%M UTC")


def _silence_reason(session: Session, detail: str | None) -> str | None:
    # actions.silence_incident writes "silence <id> until <time>"; the reason lives on the silence.
    match = re.match(r"silence (\d+) ", detail or "")
    silence = session.get(Silence, int(match.group(1))) if match else None
    return silence.reason if silence else None


def _where(source: str | None) -> str:
    """` in Slack`, ` in PagerDuty`, ...: where a person acted, when recorded (migration 0010)."""
    try:
        return f" in {ActionSource(source).label}" if source else ""
    except ValueError:
        return ""


def _incident_entry(event: IncidentEvent, session: Session) -> Entry:
    step = _INCIDENT_STEPS.get(event.event, Step.OTHER)
    who = f" by {event.actor}" if event.actor else ""
    where = _where(event.source)
    texts = {
        Step.OPENED: "Incident opened",
        Step.NOTIFIED: "Owner notified",
        Step.ESCALATED: f"Escalated to {event.detail}" if event.detail else "Escalated",
        Step.ACKED: f"Acknowledged{who}{where}",
        Step.ACK_EXPIRED: f"Acknowledgement{who} expired",
        Step.SILENCED: f"Silenced{who}",
        Step.RESOLVED: f"Resolved{who}{where}" if event.actor else "Resolved: every alert cleared",
    }
    text = texts.get(step, event.event)
    if step in (Step.ACKED, Step.SILENCED) and event.detail:
        text += f" ({_ISO.sub(_human_time, event.detail)})"
    if step is Step.SILENCED and (reason := _silence_reason(session, event.detail)):
        text += f": {reason}"
    return Entry(event.at, step, text, event.actor)


def incident_timeline(
    model: Model, session: Session, incident: Incident, until: datetime, states: list[AlertState] | None = None
) -> list[Entry]:
    """Everything that happened to the incident up to `until`, oldest first."""
    number = incident.id
    states = states if states is not None else list(session.exec(select(AlertState)).all())
    rules = incident_rules(model, incident, states)
    timeline = [
        _incident_entry(e, session)
        for e in session.exec(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == number, col(IncidentEvent.at) <= until)
            .order_by(col(IncidentEvent.at))
        ).all()
    ]
    if rules:
        events = session.exec(
            select(AlertEvent)
            .where(col(AlertEvent.rule).in_(sorted(rules)))
            .where(col(AlertEvent.at) >= incident.opened_at, col(AlertEvent.at) <= until)
            .where(or_(AlertEvent.event == "firing", AlertEvent.event == "resolved"))
            .order_by(col(AlertEvent.at), col(AlertEvent.id))
        ).all()
        for e in events:
            value = unit_text(model, e.rule, e.value, e.labels)
            labels = ", ".join(f"{k}={v}" for k, v in labels_of(e.labels).items())
            name = f"{e.rule}" + (f" {{{labels}}}" if labels else "")
            if e.event == "firing":
                step = Step.FIRED if e.at <= incident.opened_at else Step.JOINED
                verb = "fired" if step is Step.FIRED else "joined (also firing)"
                timeline.append(Entry(e.at, step, f"{name} {verb}", rule=e.rule, value=value))
            else:
                timeline.append(Entry(e.at, Step.ALERT_RESOLVED, f"{name} cleared", rule=e.rule, value=value))
    flow = incident_flow(model, incident.group_key)
    if flow is not None:
        fixes = session.exec(
            select(Intervention)
            .where(Intervention.flow == flow)
            .where(col(Intervention.performed_at) >= incident.opened_at, col(Intervention.performed_at) <= until)
        ).all()
        for fix in fixes:
            who = f" by {fix.actor}" if fix.actor else ""
            text = f"Fixed by hand{who}: {fix.reason} {fix.record}" + (f" ({fix.note})" if fix.note else "")
            timeline.append(Entry(fix.performed_at, Step.FIXED, text, fix.actor))
    # Order within one instant: the alert fires, then the incident opens, then people act on it.
    order = {Step.FIRED: 0, Step.OPENED: 1, Step.NOTIFIED: 2, Step.ALERT_RESOLVED: 8, Step.RESOLVED: 9}
    timeline.sort(key=lambda e: (e.at, order.get(e.step, 5)))
    return timeline
