"""Alertmanager alerts that name no rule of the model: told to a team, kept in the history, never silent.

They have no flow, rule or runbook, and flowhealth's incidents are built from the model's rules,
so they do not become incidents. Each firing and each resolve is instead one message of its own
to the owning team's Slack channel and to its receivers that take the alert's severity, written
to the outbox (an outage delays it, never drops it), plus one history event (rule
``alertmanager``).

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
from .routing import SLACK, immediate_routes
from .silences import AlertIdentity, active_silences, silencing

log = logging.getLogger(__name__)

UNKNOWN_RULE = "alertmanager"
_SEVERITIES = ("critical", "warning", "info")
DEFAULT_SEVERITY = "warning"


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


def keep_unknown(session: Session, model: Model, notice: ExternalAlert, now: datetime) -> bool:
    """Record an unknown alert and tell its team; False when it was a repeat and changed nothing."""
    labels = labels_key(notice.labels)[:512]
    starts = notice.starts_at.isoformat()
    latest = _latest(session, labels)
    if (latest is not None and latest[:2] == (notice.status, starts)) or (notice.status == "resolved" and not latest):
        return False  # a repeat, or the resolve of a firing never received: nothing to say
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
        return True
    _tell(session, model, notice, now)
    log.info("alert %s from Alertmanager names no rule: told %s", notice.alertname or "?", notice.team)
    return True


def _tell(session: Session, model: Model, notice: ExternalAlert, now: datetime) -> None:
    team = model.teams[notice.team]
    payload = Message(kind=NoticeKind.POST, notices=[notice]).to_json()
    key = f"alertmanager:{notice.team}:{notice.fingerprint}:{notice.starts_at:%Y%m%dT%H%M%S}:{notice.status}"
    enqueue(
        session,
        dedup_key=key,
        thread_key=key,
        kind=NoticeKind.POST,
        team=notice.team,
        channel=team.slack_channel,
        payload=payload,
        now=now,
        receiver=SLACK,
    )
    for route in immediate_routes(notice.team, team, notice.severity):
        # One thread per alert and receiver: its resolve follows its firing (email threads them).
        enqueue(
            session,
            dedup_key=f"{key}:{route.name}",
            thread_key=f"alertmanager:{notice.fingerprint}:{route.name}",
            kind=NoticeKind.POST,
            team=notice.team,
            channel=route.key,
            receiver=route.key,
            payload=payload,
            now=now,
        )
