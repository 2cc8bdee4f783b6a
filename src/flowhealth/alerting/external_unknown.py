"""Alertmanager alerts that name no rule of the model: told to a team, kept in the history, never silent.

They have no flow, rule or runbook, and flowhealth's incidents are built from the model's rules,
so they do not become incidents. Each firing and each resolve is instead told in a message of
its own to the owning team's Slack channel and to its receivers that take the alert's severity,
written to the outbox (an outage delays it, never drops it), plus one history event (rule
``alertmanager``). What one payload changes for a team is told together, at most
``MAX_PER_MESSAGE`` alerts to a message, so a storm of them is a few messages, not hundreds.

* **Owner**: the alert's ``team`` label when it names a team of the model (the label our
  exported rules carry, and a common one elsewhere), else its ``owner`` label, else the catch-all
  team (``alertmanager_catch_all: true``), else the team most others escalate to.
* **Severity**: the ``severity`` label when it is critical, warning or info; otherwise warning.
* **Once per firing**: Alertmanager repeats a firing alert every ``repeat_interval``; the same
  status with the same ``startsAt`` as the series' last history event changes nothing. A resolve
  is told only after its firing was.
* **Silences** of flowhealth that match the team or severity mute it (history only).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from sqlmodel import Session, col, select

from ..model.model import Model
from ..store.outbox import enqueue
from ..store.tables import AlertEvent
from ..store.types import labels_key
from .enums import NoticeKind
from .notices import ExternalAlert, Message
from .routing import SLACK, Route, immediate_routes
from .silences import AlertIdentity, active_silences, silencing

log = logging.getLogger(__name__)

UNKNOWN_RULE = "alertmanager"
_SEVERITIES = ("critical", "warning", "info")
DEFAULT_SEVERITY = "warning"
# A storm of unknown alerts (a broken exporter, a new Prometheus) must not become a storm of
# messages: the alerts one payload brings to a team are told together, this many to a message.
MAX_PER_MESSAGE = 20


def owner_of(model: Model, labels: dict[str, str], catch_all: str) -> str:
    """The team an unknown alert goes to (see the module docstring)."""
    for key in ("team", "owner"):
        if labels.get(key) in model.teams:
            return labels[key]
    return catch_all


def severity_of(labels: dict[str, str]) -> str:
    severity = labels.get("severity", "")
    return severity if severity in _SEVERITIES else DEFAULT_SEVERITY


def fingerprint_of(labels: dict[str, str], given: str) -> str:
    """Alertmanager's fingerprint, or one of our own from the labels when it sent none."""
    return given or hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]


def _latest(session: Session, labels: str) -> tuple[str, str, bool] | None:
    """The newest recorded event of this alert series, the start it named, and whether it was told."""
    row = session.exec(
        select(AlertEvent)
        .where(AlertEvent.rule == UNKNOWN_RULE, AlertEvent.labels == labels)
        .order_by(col(AlertEvent.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        detail = json.loads(row.detail or "{}")
    except json.JSONDecodeError:
        detail = {}
    return row.event, str(detail.get("starts_at", "")), "silenced_by" not in detail


def keep_unknown(session: Session, model: Model, notice: ExternalAlert, now: datetime) -> ExternalAlert | None:
    """Record an unknown alert in the history; the notice when its team is to be told, else None."""
    labels = labels_key(notice.labels)[:512]
    starts = notice.starts_at.isoformat()
    latest = _latest(session, labels)
    if (latest is not None and latest[:2] == (notice.status, starts)) or (notice.status == "resolved" and not latest):
        return None  # a repeat, or the resolve of a firing never received: nothing to say
    told_firing = latest == ("firing", starts, True)
    identity = AlertIdentity(UNKNOWN_RULE, notice.labels.get("flow", ""), notice.team, notice.severity, ())
    muted = silencing(active_silences(session, now), identity)
    detail = {
        "alertname": notice.alertname,
        "annotations": notice.annotations,
        "fingerprint": notice.fingerprint,
        "starts_at": starts,
    }
    if muted is not None:
        detail["silenced_by"] = str(muted.id)
    session.add(
        AlertEvent(
            rule=UNKNOWN_RULE,
            labels=labels,
            flow=notice.labels.get("flow", "")[:64],
            event=notice.status,
            at=now,
            actor=notice.team,
            detail=json.dumps(detail, sort_keys=True),
        )
    )
    if muted is not None or (notice.status == "resolved" and not told_firing):
        return None
    return notice


def tell(session: Session, model: Model, notices: list[ExternalAlert], now: datetime) -> None:
    """Queue the messages about what one payload changed: per team, up to MAX_PER_MESSAGE alerts each."""
    by_team: dict[str, list[ExternalAlert]] = {}
    for notice in notices:
        by_team.setdefault(notice.team, []).append(notice)
    for team, told in by_team.items():
        for first in range(0, len(told), MAX_PER_MESSAGE):
            _tell(session, model, team, told[first : first + MAX_PER_MESSAGE], now)
        names = ", ".join(sorted({n.alertname or "?" for n in told}))
        log.info("%d alert(s) from Alertmanager name no rule (%s): told %s", len(told), names, team)


def _key(notice: ExternalAlert) -> str:
    return f"{notice.fingerprint}:{notice.starts_at:%Y%m%dT%H%M%S}:{notice.status}"


def _tell(session: Session, model: Model, team_id: str, notices: list[ExternalAlert], now: datetime) -> None:
    team = model.teams[team_id]
    digest = hashlib.sha256("\n".join(_key(n) for n in notices).encode()).hexdigest()[:24]
    key = f"alertmanager:{team_id}:{digest}"
    # One thread per team and receiver keeps them in order: a resolve never overtakes its firing.
    enqueue(
        session,
        dedup_key=key,
        thread_key=f"alertmanager:{team_id}",
        kind=NoticeKind.POST,
        team=team_id,
        channel=team.slack_channel,
        payload=Message(kind=NoticeKind.POST, notices=list(notices)).to_json(),
        now=now,
        receiver=SLACK,
    )
    # Each receiver gets the alerts of the severities it takes (PagerDuty: critical ones only, say).
    routes: dict[str, tuple[Route, list[ExternalAlert]]] = {}
    for notice in notices:
        for route in immediate_routes(team_id, team, notice.severity):
            routes.setdefault(route.name, (route, []))[1].append(notice)
    for route, taken in routes.values():
        enqueue(
            session,
            dedup_key=f"{key}:{route.name}",
            thread_key=f"alertmanager:{team_id}:{route.name}",
            kind=NoticeKind.POST,
            team=team_id,
            channel=route.key,
            receiver=route.key,
            payload=Message(kind=NoticeKind.POST, notices=taken).to_json(),
            now=now,
        )
