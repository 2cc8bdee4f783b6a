"""An incident's page: the timeline of every transition and action, evidence, members, links, runbook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from ..alerting.classify import Context, build_context, group_matchers, members, suppressed_under
from ..alerting.enums import AlertState as State
from ..alerting.silences import active_silences
from ..evidence import EvidenceTable
from ..hypercare.board_acks import ack_sources
from ..hypercare.board_delivery import DeliveryProblem, delivery_problems
from ..hypercare.history import incident_flow
from ..model.durations import human_duration
from ..model.model import Model
from ..store.outbox import thread_ref
from ..store.tables import AlertState, Incident
from ..store.types import labels_of
from .timeline import Entry, incident_rules, incident_timeline, unit_text

# Slack resolves a channel and message timestamp to the message in whichever workspace holds it.
SLACK_ARCHIVE = "https://slack.com/archives"


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
    evidence: EvidenceTable | None
    runbook: str
    # False when an earlier member shows the same table (series of one rule share its evidence).
    evidence_first: bool = True


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
    # Receivers that failed to deliver this incident's messages: its owners may not know.
    undelivered: list[DeliveryProblem] = field(default_factory=list)
    acked_where: str | None = None  # "Slack", "the CLI": where the latest acknowledgement was made


def incident_page(model: Model, session: Session, number: int, now: datetime) -> IncidentPage | None:
    """The page of incident `number`, or None when there is no such incident."""
    incident = session.get(Incident, number)
    if incident is None:
        return None
    states = list(session.exec(select(AlertState)).all())
    rules = incident_rules(model, incident, states)
    until = incident.resolved_at or now
    timeline = incident_timeline(model, session, incident, until, states)
    ctx = build_context(model, states, active_silences(session, now), now)
    ctx.index(states)
    listed = _members(model, incident, states, ctx)
    ref = thread_ref(session, f"incident:{number}")
    slack = f"{SLACK_ARCHIVE}/{ref.channel_id}/p{ref.message_ts.replace('.', '')}" if ref else None
    return IncidentPage(
        incident=incident,
        flow=_flow_of(model, incident),
        group=group_matchers(incident.group_key),
        open_for=human_duration(until - incident.opened_at),
        timeline=timeline,
        members=listed,
        runbooks=sorted({m.runbook for m in listed} | {model.rule(r).runbook for r in rules if r in model.all_rules()}),
        slack_url=slack,
        children=_children(model, incident, states, ctx),
        undelivered=delivery_problems(session, now, incident=number),
        acked_where=_acked_where(session, incident),
    )


def _acked_where(session: Session, incident: Incident) -> str | None:
    if not incident.acked_by or incident.id is None:
        return None
    source = ack_sources(session, [incident.id]).get(incident.id)
    return source.label if source else None


def _flow_of(model: Model, incident: Incident) -> str | None:
    return incident_flow(model, incident.group_key)


def _members(model: Model, incident: Incident, states: list[AlertState], ctx: Context) -> list[Member]:
    out: list[Member] = []
    seen: set[str | None] = {None}  # evidence tables (as stored) an earlier member shows
    for m in members(model, incident, ctx):
        s = m.state
        note = m.note
        if m.silence is not None:
            note = f"silence #{m.silence.id} by {m.silence.author} until {m.silence.ends_at:%Y-%m-%d %H:%M} UTC: {m.silence.reason}"
        firing = s.state == State.FIRING
        out.append(
            Member(
                rule=s.rule,
                labels=labels_of(s.labels),
                state=s.state,
                status=m.status.value,
                note=note,
                value=unit_text(model, s.rule, s.last_value, s.labels),
                fired_at=s.firing_since,
                resolved_at=None if firing else s.resolved_at,
                resolved_value=None if firing else unit_text(model, s.rule, s.resolved_value, s.labels),
                evidence=EvidenceTable.model_validate_json(s.evidence) if s.evidence else None,
                runbook=model.rule(s.rule).runbook,
                evidence_first=s.evidence not in seen,
            )
        )
        seen.add(s.evidence)
    return out


def _children(model: Model, incident: Incident, states: list[AlertState], ctx: Context) -> list[str]:
    return [
        f"{s.rule} ({model.rule(s.rule).flow}), owner {s.owner}" for s in suppressed_under(model, incident, states, ctx)
    ]
