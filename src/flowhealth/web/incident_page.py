"""An incident's page: the timeline of every transition and action, evidence, members, links, runbook."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, or_, select

from ..alerting.incidents import IncidentManager, group_matchers
from ..alerting.payload import format_value
from ..model.durations import format_duration
from ..model.model import Model
from ..store.outbox import thread_ref
from ..store.tables import AlertEvent, AlertState, Incident, IncidentEvent, Silence
from ..store.types import labels_of

# Slack resolves a channel and message timestamp to the message in whichever workspace holds it.
SLACK_ARCHIVE = "https://slack.com/archives"


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


@dataclass(frozen=True)
class Member:
    """An alert of the incident as it stands: its status and, when muted, why (silence or parent)."""

    rule: str
    labels: dict[str, str]
    state: str
    status: str
    note: str | None
    value: str
    fired_at: datetime | None
    resolved_at: datetime | None
    resolved_value: str | None
    evidence: dict[str, Any] | None
    runbook: str


@dataclass
class IncidentPage:
    incident: Incident
    flow: str | None
    group: dict[str, str]
    open_for: str
    timeline: list[Entry]
    members: list[Member]
    runbooks: list[str]
    slack_url: str | None
    pagerduty_url: str | None = None  # when PagerDuty delivery lands, its incident link goes here
    children: list[str] = field(default_factory=list)  # alerts suppressed under this incident's outage


def _scope(model: Model, incident: Incident, states: list[AlertState]) -> set[str]:
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


def _unit_text(model: Model, rule_id: str, value: float | None, labels: str) -> str:
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


def _incident_entry(event: IncidentEvent, session: Session) -> Entry:
    step = _INCIDENT_STEPS.get(event.event, Step.OTHER)
    who = f" by {event.actor}" if event.actor else ""
    texts = {
        Step.OPENED: "Incident opened",
        Step.NOTIFIED: "Owner notified",
        Step.ESCALATED: f"Escalated to {event.detail}" if event.detail else "Escalated",
        Step.ACKED: f"Acknowledged{who}",
        Step.ACK_EXPIRED: f"Acknowledgement{who} expired",
        Step.SILENCED: f"Silenced{who}",
        Step.RESOLVED: f"Resolved{who}" if event.actor else "Resolved: every alert cleared",
    }
    text = texts.get(step, event.event)
    if step in (Step.ACKED, Step.SILENCED) and event.detail:
        text += f" ({_ISO.sub(_human_time, event.detail)})"
    if step is Step.SILENCED and (reason := _silence_reason(session, event.detail)):
        text += f": {reason}"
    return Entry(event.at, step, text, event.actor)


def incident_page(
    model: Model, manager: IncidentManager, session: Session, number: int, now: datetime
) -> IncidentPage | None:
    """The page of incident `number`, or None when there is no such incident."""
    incident = session.get(Incident, number)
    if incident is None:
        return None
    states = list(session.exec(select(AlertState)).all())
    rules = _scope(model, incident, states)
    until = incident.resolved_at or now
    timeline = [
        _incident_entry(e, session)
        for e in session.exec(
            select(IncidentEvent).where(IncidentEvent.incident_id == number).order_by(col(IncidentEvent.at))
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
            value = _unit_text(model, e.rule, e.value, e.labels)
            labels = ", ".join(f"{k}={v}" for k, v in labels_of(e.labels).items())
            name = f"{e.rule}" + (f" {{{labels}}}" if labels else "")
            if e.event == "firing":
                step = Step.FIRED if e.at <= incident.opened_at else Step.JOINED
                verb = "fired" if step is Step.FIRED else "joined (also firing)"
                timeline.append(Entry(e.at, step, f"{name} {verb}", rule=e.rule, value=value))
            else:
                timeline.append(Entry(e.at, Step.ALERT_RESOLVED, f"{name} cleared", rule=e.rule, value=value))
    # Order within one instant: the alert fires, then the incident opens, then people act on it.
    order = {Step.FIRED: 0, Step.OPENED: 1, Step.NOTIFIED: 2, Step.ALERT_RESOLVED: 8, Step.RESOLVED: 9}
    timeline.sort(key=lambda e: (e.at, order.get(e.step, 5)))
    members = _members(model, manager, session, incident, states, now)
    ref = thread_ref(session, f"incident:{number}")
    slack = f"{SLACK_ARCHIVE}/{ref.channel_id}/p{ref.message_ts.replace('.', '')}" if ref else None
    return IncidentPage(
        incident=incident,
        flow=_flow_of(model, incident),
        group=group_matchers(incident.group_key),
        open_for=format_duration(until - incident.opened_at),
        timeline=timeline,
        members=members,
        runbooks=sorted(
            {m.runbook for m in members} | {model.rule(r).runbook for r in rules if r in model.all_rules()}
        ),
        slack_url=slack,
        children=_children(model, manager, session, incident, states, now),
    )


def _flow_of(model: Model, incident: Incident) -> str | None:
    from ..hypercare.history import incident_flow

    return incident_flow(model, incident.group_key)


def _members(
    model: Model,
    manager: IncidentManager,
    session: Session,
    incident: Incident,
    states: list[AlertState],
    now: datetime,
) -> list[Member]:
    ctx = manager.context(session, states, now)
    out = []
    for m in manager.members(incident, states, ctx):
        s = m.state
        note = m.note
        if m.silence is not None:
            note = f"silence #{m.silence.id} by {m.silence.author} until {m.silence.ends_at:%Y-%m-%d %H:%M} UTC: {m.silence.reason}"
        out.append(
            Member(
                rule=s.rule,
                labels=labels_of(s.labels),
                state=s.state,
                status=m.status,
                note=note,
                value=_unit_text(model, s.rule, s.last_value, s.labels),
                fired_at=s.firing_since,
                resolved_at=s.resolved_at if s.state != "firing" else None,
                resolved_value=_unit_text(model, s.rule, s.resolved_value, s.labels) if s.state != "firing" else None,
                evidence=json.loads(s.evidence) if s.evidence else None,
                runbook=model.rule(s.rule).runbook,
            )
        )
    return out


def _children(
    model: Model,
    manager: IncidentManager,
    session: Session,
    incident: Incident,
    states: list[AlertState],
    now: datetime,
) -> list[str]:
    ctx = manager.context(session, states, now)
    return [
        f"{s.rule} ({model.rule(s.rule).flow}), owner {s.owner}"
        for s in manager.suppressed_under(incident, states, ctx)
    ]
