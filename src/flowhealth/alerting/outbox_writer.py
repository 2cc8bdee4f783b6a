"""Stage 3 of the incident pipeline: write a plan's messages and events, in the cycle's transaction.

Messages of one incident share a thread key (delivered in order, edited in place); each gets a
sequence number, so a message is enqueued once however often a cycle is retried. A picture-only
update replaces an undelivered older one: the channel shows the latest state, not every step.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from ..model.model import Model
from ..store.outbox import enqueue
from ..store.tables import Incident, IncidentEvent, OutboxMessage
from .enums import NoticeKind
from .notices import UnknownVersion, read_message
from .plan import EventRecord, Outgoing, Plan
from .routing import immediate_routes


class OutboxWriter:
    """Writes plans to the outbox and the incident's event history."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def write(self, session: Session, plan: Plan, now: datetime, incident: Incident | None = None) -> None:
        if incident is not None:
            session.add(incident)
            for record in plan.events:
                session.add(event_row(incident, record, now))
        for outgoing in plan.outgoing:
            if incident is None:
                self._write_loose(session, outgoing, now)
            else:
                self._write_incident(session, incident, outgoing, now)

    def _write_loose(self, session: Session, outgoing: Outgoing, now: datetime) -> None:
        assert outgoing.key is not None and outgoing.team is not None and outgoing.channel is not None
        enqueue(
            session,
            dedup_key=outgoing.key,
            thread_key=outgoing.key,
            kind=outgoing.kind,
            team=outgoing.team,
            channel=outgoing.channel,
            payload=outgoing.message.to_json(),
            now=now,
        )

    def _write_incident(self, session: Session, incident: Incident, outgoing: Outgoing, now: datetime) -> None:
        assert incident.id is not None
        thread_key = f"incident:{incident.id}"
        if outgoing.kind == NoticeKind.UPDATE and not outgoing.message.notices:
            waiting = _waiting_picture(session, thread_key)
            if waiting is not None:
                waiting.payload = outgoing.message.to_json()
                session.add(waiting)
                return
        incident.message_seq += 1
        if outgoing.kind == NoticeKind.POST:
            thread_key = f"{thread_key}:post:{incident.message_seq}"
        dedup_key = f"incident:{incident.id}:{incident.message_seq}:{outgoing.kind}"
        payload = outgoing.message.to_json()
        enqueue(
            session,
            dedup_key=dedup_key,
            thread_key=thread_key,
            kind=outgoing.kind,
            team=incident.team,
            channel=outgoing.channel or self.model.teams[incident.team].slack_channel,
            payload=payload,
            now=now,
        )
        if outgoing.kind != NoticeKind.POST and outgoing.message.view is not None:
            team = self.model.teams[incident.team]
            for route in immediate_routes(incident.team, team, outgoing.message.view.severity):
                # Each receiver has its own thread: one receiver's outage never holds up another's.
                enqueue(
                    session,
                    dedup_key=f"{dedup_key}:{route.name}",
                    thread_key=f"incident:{incident.id}:{route.name}",
                    kind=outgoing.kind,
                    team=incident.team,
                    channel=route.key,
                    receiver=route.key,
                    payload=payload,
                    now=now,
                )
        session.add(incident)


def _waiting_picture(session: Session, thread_key: str) -> OutboxMessage | None:
    """The newest undelivered, never-tried update of a thread that reports nothing but the picture."""
    waiting = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.thread_key == thread_key,
            OutboxMessage.kind == NoticeKind.UPDATE,
            col(OutboxMessage.delivered_at).is_(None),
        )
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    if waiting is None or waiting.attempts != 0:
        return None
    try:
        message = read_message(waiting.kind, waiting.payload, at=waiting.created_at)
    except (UnknownVersion, ValueError):
        return None  # not ours to overwrite
    return waiting if not message.notices else None


def event_row(incident: Incident, record: EventRecord, at: datetime) -> IncidentEvent:
    assert incident.id is not None
    return IncidentEvent(incident_id=incident.id, event=record.event, at=at, actor=record.actor, detail=record.detail)
