"""What an incident's message says right now, as an `IncidentView`: notifiers render it, the board reads it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from ..evidence import EvidenceTable
from ..links import Links
from ..model.model import Model
from ..store.tables import AlertState, Incident, Silence
from ..store.types import labels_of
from .baseline import Expected
from .enums import MEMBER_ORDER, IncidentStatus, MemberStatus
from .enums import AlertState as State
from .expected_note import expected_note
from .payload import build_alert, owner_of
from .silences import matchers_of
from .view_models import AlertView, IncidentView, SilenceInfo, SuppressedAlert, as_severity

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Member:
    """An alert of an incident and why it is (not) being shouted about."""

    state: AlertState
    status: MemberStatus
    silence: Silence | None = None
    note: str | None = None  # e.g. "maintenance: erp-weekly-maintenance"
    expected: Expected | None = None  # baseline rules: what was expected instead


def stored_evidence(state: AlertState) -> EvidenceTable | None:
    """The evidence kept with an alert state when it fired (JSON of an `EvidenceTable`)."""
    return EvidenceTable.model_validate_json(state.evidence) if state.evidence else None


def silence_info(silence: Silence) -> SilenceInfo:
    return SilenceInfo(
        id=silence.id or 0,
        author=silence.author,
        until=silence.ends_at,
        reason=silence.reason,
        starts_at=silence.starts_at,
        matchers=matchers_of(silence),
    )


def alert_view(model: Model, links: Links, member: Member, incident_id: int, now: datetime) -> AlertView:
    state = member.state
    firing = state.state == State.FIRING
    alert = build_alert(
        model,
        links,
        rule_id=state.rule,
        labels=labels_of(state.labels),
        kind="firing" if firing else "resolved",
        value=state.last_value if firing else state.resolved_value,
        since=state.firing_since or now,
        now=now if firing else (state.resolved_at or now),
        incident=incident_id,
        owner=state.owner,
        evidence=stored_evidence(state),
        summary_value=state.last_value,
    )
    update: dict[str, object] = {
        "status": member.status,
        "reason": "no_data" if state.reason == "no_data" else "threshold",
        "note": member.note,
    }
    if member.expected is not None:
        rule = model.rule(state.rule)
        kind = model.signal(rule.flow, rule.signal).kind
        observed = state.last_value if firing else state.resolved_value
        update["expected"] = expected_note(member.expected, observed, kind, model.flows[rule.flow].average_value)
    if state.reason == "no_data" and firing:
        since = state.unknown_since or state.firing_since or now
        update["summary"] = (
            f"No data: {alert.flow}/{alert.signal} has not been measured since "
            f"{since:%Y-%m-%d %H:%M} UTC, so '{state.rule}' cannot be evaluated"
        )
        update["value_text"] = "no data"
    return alert.model_copy(update=update)


def incident_view(
    model: Model,
    links: Links,
    incident: Incident,
    members: list[Member],
    suppressed: list[AlertState],
    now: datetime,
) -> IncidentView:
    """The full content of an incident's message; rendering needs nothing else."""
    assert incident.id is not None
    alerts = [alert_view(model, links, m, incident.id, now) for m in members]
    alerts.sort(key=lambda a: (MEMBER_ORDER[a.status], SEVERITY_ORDER[a.severity], a.rule, str(a.labels)))
    team = model.teams[incident.team]
    silence = _shown_silence(members)
    title, flow = (alerts[0].summary, alerts[0].flow) if alerts else ("", "")
    if incident.group_key.endswith("|storm"):
        title, flow = _storm_title(alerts, members), "several flows"
    return IncidentView(
        incident=incident.id,
        team=incident.team,
        owner=owner_of(model, incident.team),
        escalation=owner_of(model, team.escalation) if team.escalation in model.teams else None,
        status=IncidentStatus(incident.status),
        severity=as_severity(incident.severity),
        title=title,
        flow=flow,
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at,
        resolved_by=incident.resolved_by,
        acked_by=incident.acked_by,
        ack_expires_at=incident.ack_expires_at,
        escalations=incident.escalations,
        silence=silence_info(silence) if silence else None,
        alerts=alerts,
        suppressed=[
            SuppressedAlert(rule=s.rule, flow=model.rule(s.rule).flow, since=s.firing_since or now, owner=s.owner)
            for s in sorted(suppressed, key=lambda s: (s.rule, s.labels))
        ],
    )


def _shown_silence(members: list[Member]) -> Silence | None:
    """The silence a message shows: when every firing alert is silenced, the one lasting longest."""
    firing = [m for m in members if m.state.state == State.FIRING]
    if not firing or any(m.status != MemberStatus.SILENCED for m in firing):
        return None
    silences = [m.silence for m in members if m.status == MemberStatus.SILENCED and m.silence is not None]
    return max(silences, key=lambda s: s.ends_at) if silences else None


def _storm_title(alerts: list[AlertView], members: list[Member]) -> str:
    firing = sum(1 for m in members if m.state.state == State.FIRING)
    flows = sorted({a.flow for a in alerts if a.status != MemberStatus.RESOLVED})
    shown = ", ".join(flows[:3]) + (f" and {len(flows) - 3} more" if len(flows) > 3 else "")
    return f"Alert storm: {firing} alerts on {len(flows)} flows ({shown}), grouped in one message"


def essence_hash(model: Model, incident: Incident, members: list[Member], suppressed: list[AlertState]) -> str:
    """Changes when the message would say something new; values ticking along do not count."""
    essence = {
        "status": incident.status,
        "severity": incident.severity,
        "acked_by": incident.acked_by,
        "ack_expires_at": incident.ack_expires_at.isoformat() if incident.ack_expires_at else None,
        "alerts": sorted(
            (m.state.rule, m.state.labels, str(m.status), m.state.state, m.silence.id if m.silence else -1)
            for m in members
        ),
        "suppressed": sorted((s.rule, s.labels) for s in suppressed),
        "escalations": incident.escalations,
    }
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()
