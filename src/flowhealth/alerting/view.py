"""What an incident's message says right now, as data: notifiers render it, the board reads it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model.model import Model
from ..store.tables import AlertState, Incident, Silence
from ..store.types import labels_of
from .baseline import Expected
from .expected_note import expected_note
from .payload import Links, build_payload

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
STATUS_ORDER = {"active": 0, "held": 1, "silenced": 2, "suppressed": 3, "resolved": 4}


@dataclass(frozen=True)
class Member:
    """An alert of an incident and why it is (not) being shouted about."""

    state: AlertState
    status: str  # active | held | silenced | suppressed | resolved
    silence: Silence | None = None
    note: str | None = None  # e.g. "maintenance: erp-weekly-maintenance"
    expected: Expected | None = None  # baseline rules: what was expected instead


def alert_payload(model: Model, links: Links, member: Member, incident_id: int, now: datetime) -> dict[str, Any]:
    state = member.state
    firing = state.state == "firing"
    payload = build_payload(
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
        evidence=json.loads(state.evidence) if state.evidence else None,
        summary_value=state.last_value,
    )
    payload["status"] = member.status
    payload["reason"] = state.reason
    payload["note"] = member.note
    if member.expected is not None:
        rule = model.rule(state.rule)
        kind = model.signal(rule.flow, rule.signal).kind
        observed = state.last_value if firing else state.resolved_value
        note = expected_note(member.expected, observed, kind, model.flows[rule.flow].average_value)
        payload["expected"] = note.to_json()
    if state.reason == "no_data" and firing:
        since = state.unknown_since or state.firing_since or now
        payload["summary"] = (
            f"No data: {payload['flow']}/{payload['signal']} has not been measured since "
            f"{since:%Y-%m-%d %H:%M} UTC, so '{state.rule}' cannot be evaluated"
        )
        payload["value_text"] = "no data"
    return payload


def incident_view(
    model: Model,
    links: Links,
    incident: Incident,
    members: list[Member],
    suppressed: list[AlertState],
    now: datetime,
) -> dict[str, Any]:
    """The full content of an incident's message; rendering needs nothing else."""
    assert incident.id is not None
    alerts = [alert_payload(model, links, m, incident.id, now) for m in members]
    alerts.sort(key=lambda a: (STATUS_ORDER[a["status"]], SEVERITY_ORDER[a["severity"]], a["rule"], str(a["labels"])))
    team = model.teams[incident.team]
    silences = [m.silence for m in members if m.status == "silenced" and m.silence is not None]
    firing = [m for m in members if m.state.state == "firing"]
    silenced = bool(firing) and all(m.status == "silenced" for m in firing)
    silence = max(silences, key=lambda s: s.ends_at) if silenced and silences else None
    primary = alerts[0] if alerts else None
    title, flow = (primary["summary"], primary["flow"]) if primary else ("", "")
    if incident.group_key.endswith("|storm"):
        flows = sorted({a["flow"] for a in alerts if a["status"] != "resolved"})
        shown = ", ".join(flows[:3]) + (f" and {len(flows) - 3} more" if len(flows) > 3 else "")
        title = f"Alert storm: {len(firing)} alerts on {len(flows)} flows ({shown}), grouped in one message"
        flow = "several flows"
    return {
        "incident": incident.id,
        "team": incident.team,
        "owner": {
            "team": incident.team,
            "name": team.name or incident.team,
            "channel": team.slack_channel,
            "oncall": team.oncall,
        },
        "status": incident.status,
        "severity": incident.severity,
        "title": title,
        "flow": flow,
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "resolved_by": incident.resolved_by,
        "acked_by": incident.acked_by,
        "ack_expires_at": incident.ack_expires_at.isoformat() if incident.ack_expires_at else None,
        "escalations": incident.escalations,
        "silence": (
            {"id": silence.id, "author": silence.author, "until": silence.ends_at.isoformat(), "reason": silence.reason}
            if silence
            else None
        ),
        "alerts": alerts,
        "suppressed": [
            {
                "rule": s.rule,
                "flow": model.rule(s.rule).flow,
                "since": (s.firing_since or now).isoformat(),
                "owner": s.owner,
            }
            for s in sorted(suppressed, key=lambda s: (s.rule, s.labels))
        ],
    }


def essence_hash(model: Model, incident: Incident, members: list[Member], suppressed: list[AlertState]) -> str:
    """Changes when the message would say something new; values ticking along do not count."""
    essence = {
        "status": incident.status,
        "severity": incident.severity,
        "acked_by": incident.acked_by,
        "ack_expires_at": incident.ack_expires_at.isoformat() if incident.ack_expires_at else None,
        "alerts": sorted(
            (m.state.rule, m.state.labels, m.status, m.state.state, m.silence.id if m.silence else -1) for m in members
        ),
        "suppressed": sorted((s.rule, s.labels) for s in suppressed),
        "escalations": incident.escalations,
    }
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()
