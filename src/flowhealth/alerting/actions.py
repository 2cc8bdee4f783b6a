"""Acknowledge, resolve and silence: one implementation behind Slack buttons, the API and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..clock import Clock
from ..errors import FlowHealthError
from ..model.model import Model
from ..store.db import transaction
from ..store.tables import AlertState, Incident, IncidentEvent, Silence
from .enums import ActionSource, IncidentStatus
from .enums import AlertState as AlertStateName
from .incidents import DEFAULT_ACK_TTL, IncidentManager, group_matchers
from .notices import Acknowledged, Notice, Resolved, SilenceStarted
from .silences import create_silence, expire_silence
from .view import silence_info, stored_evidence
from .view_models import IncidentAlertSummary, IncidentSummary

MAX_ID = 2**63 - 1  # the largest id a database column holds


class ActionError(FlowHealthError):
    """The action cannot be done: unknown incident, already resolved, bad silence."""


class NotFound(ActionError):
    """No such incident or silence."""


class AlreadyDone(ActionError):
    """The incident is already in the state asked for (acknowledged by someone, or resolved)."""


class AlreadyResolved(AlreadyDone):
    """The incident is closed: acknowledging or resolving it again changes nothing."""


def incident_number(ref: str) -> int | None:
    """The incident id a reference names ("42", "#42"); None when it is no incident number."""
    text = ref.strip().lstrip("#")
    # ASCII digits only: str.isdigit() also takes '³', which int() refuses; ids fit in 64 bits.
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class Actions:
    """Operations people perform on incidents and silences."""

    def __init__(self, model: Model, engine: Engine, clock: Clock, incidents: IncidentManager) -> None:
        self.model = model
        self.engine = engine
        self.clock = clock
        self.incidents = incidents

    def _find(self, session: Session, ref: str) -> Incident:
        """An incident by number ("42", "#42") or by a rule with an open incident, locked for writing."""
        text = ref.strip().lstrip("#")
        if text.isascii() and text.isdigit():
            number = incident_number(text)
            if number is None or not self._lock(session, number):
                raise NotFound(f"no incident {text}")
        else:
            number = session.exec(
                select(Incident.id)
                .join(AlertState, col(AlertState.incident_id) == col(Incident.id))
                .where(AlertState.rule == text, Incident.status == "open")
                .order_by(col(Incident.id).desc())
            ).first()
            if number is None or not self._lock(session, number):
                raise NotFound(f"no open incident for '{ref}' (give an incident number or a firing rule)")
        incident = session.get(Incident, number)
        assert incident is not None  # locked above, in this transaction
        return incident

    @staticmethod
    def _lock(session: Session, number: int) -> bool:
        """Take the incident's write lock before reading it, so two people clicking at once act one
        after the other and the second sees what the first did.

        A no-op UPDATE rather than SELECT … FOR UPDATE: SQLite ignores FOR UPDATE, and Python's
        sqlite3 driver begins a transaction only at the first write, so a read before it runs on
        its own and can see a state another click is about to change. On PostgreSQL the UPDATE
        takes the same row lock FOR UPDATE would."""
        touched = session.execute(
            update(Incident).where(col(Incident.id) == number).values({col(Incident.id): col(Incident.id)})
        )
        return bool(cast(CursorResult[Any], touched).rowcount)

    def _refresh(self, session: Session, incident: Incident, notice: Notice) -> None:
        if incident.notified_at is None:
            return  # nothing was posted yet; the first message will show the new state
        states = list(session.exec(select(AlertState)).all())
        ctx = self.incidents.context(session, states, self.clock.now())
        members = self.incidents.members(incident, states, ctx)
        self.incidents.send_update(session, incident, members, states, ctx, [notice])

    def ack(
        self, ref: str, actor: str, ttl: timedelta = DEFAULT_ACK_TTL, *, source: ActionSource | None = None
    ) -> Incident:
        """Take ownership: escalation stops until the acknowledgement expires; `source`: where (else from the actor)."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            incident = self._find(session, ref)
            if incident.status != "open":
                raise AlreadyResolved(f"incident {incident.id} is already resolved")
            if incident.acked_by and incident.ack_expires_at is not None and incident.ack_expires_at > now:
                # A replayed request or a second click: the first acker stays the acker.
                raise AlreadyDone(
                    f"incident #{incident.id} is already acknowledged by {incident.acked_by}"
                    f" until {incident.ack_expires_at:%Y-%m-%d %H:%M} UTC"
                )
            incident.acked_by, incident.acked_at, incident.ack_expires_at = actor, now, now + ttl
            session.add(incident)
            session.add(
                IncidentEvent(
                    incident_id=incident.id or 0,
                    event="acked",
                    at=now,
                    actor=actor,
                    detail=f"until {incident.ack_expires_at.isoformat()}",
                    source=source or ActionSource.of_actor(actor),
                )
            )
            self._refresh(session, incident, Acknowledged(at=now, by=actor, until=incident.ack_expires_at))
            return incident

    def resolve(self, ref: str, actor: str, *, source: ActionSource | None = None) -> Incident:
        """Close the incident; alerts still firing stay quiet until they clear and fire again."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            incident = self._find(session, ref)
            if incident.status != "open":
                raise AlreadyResolved(f"incident {incident.id} is already resolved")
            incident.status, incident.resolved_at, incident.resolved_by, incident.updated_at = (
                "resolved",
                now,
                actor,
                now,
            )
            session.add(incident)
            session.add(
                IncidentEvent(
                    incident_id=incident.id or 0,
                    event="resolved",
                    at=now,
                    actor=actor,
                    source=source or ActionSource.of_actor(actor),
                )
            )
            self._refresh(session, incident, Resolved(at=now, by=actor))
            return incident

    def silence_incident(self, ref: str, actor: str, until: datetime, reason: str) -> Silence:
        """Silence what the incident is about (its owner and group) until a time."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            incident = self._find(session, ref)
            matchers = {"team": incident.team, **group_matchers(incident.group_key)}
            silence = create_silence(
                session,
                self.model,
                matchers=matchers,
                starts_at=now,
                ends_at=until,
                author=actor,
                reason=reason,
                now=now,
            )
            session.add(
                IncidentEvent(
                    incident_id=incident.id or 0,
                    event="silenced",
                    at=now,
                    actor=actor,
                    detail=f"silence {silence.id} until {until.isoformat()}",
                )
            )
            self._refresh(session, incident, SilenceStarted(at=now, silence=silence_info(silence)))
            return silence

    def silence(
        self, matchers: dict[str, str], ends_at: datetime, author: str, reason: str, starts_at: datetime | None = None
    ) -> Silence:
        """A silence by matchers (flow, system, team, rule, severity)."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            silence = create_silence(
                session,
                self.model,
                matchers=matchers,
                starts_at=starts_at or now,
                ends_at=ends_at,
                author=author,
                reason=reason,
                now=now,
            )
            self._refresh_silenced(session, silence, SilenceStarted(at=now, silence=silence_info(silence)))
            return silence

    def expire(self, silence_id: int, actor: str) -> Silence:
        """End a silence now; alerts it muted are shown again if they still hold."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            if session.get(Silence, silence_id) is None:
                raise NotFound(f"no silence {silence_id}")
            silence = expire_silence(session, silence_id, now)
            # The message is edited to show the alerts again; the team's channel is told it ended.
            self._refresh_silenced(session, silence, None)
            return silence

    def _refresh_silenced(self, session: Session, silence: Silence, notice: Notice | None) -> None:
        session.flush()
        # One read of the alert states and one context for every open incident.
        states = list(session.exec(select(AlertState)).all())
        ctx = self.incidents.context(session, states, self.clock.now())
        for incident in session.exec(select(Incident).where(Incident.status == "open")).all():
            members = self.incidents.members(incident, states, ctx)
            touched = (
                any(m.silence is not None and m.silence.id == silence.id for m in members)
                or silence.expired_at is not None
            )
            if touched and incident.notified_at is not None:
                notices = [notice] if notice is not None and silence.expired_at is None else []
                self.incidents.send_update(session, incident, members, states, ctx, notices)

    def summaries(self, include_resolved: bool = False, limit: int = 100) -> list[IncidentSummary]:
        """Open incidents (or all), newest first, with their alerts' states."""
        with Session(self.engine) as session:
            query = select(Incident).order_by(col(Incident.id).desc()).limit(limit)
            if not include_resolved:
                query = query.where(Incident.status == IncidentStatus.OPEN)
            incidents = session.exec(query).all()
            states = list(session.exec(select(AlertState).where(col(AlertState.incident_id).is_not(None))).all())
        return [
            IncidentSummary(
                incident=incident.id or 0,
                status=IncidentStatus(incident.status),
                team=incident.team,
                group=incident.group_key.split("|", 1)[1],
                severity=incident.severity,
                opened_at=incident.opened_at,
                acked_by=incident.acked_by,
                ack_expires_at=incident.ack_expires_at,
                escalations=incident.escalations,
                resolved_at=incident.resolved_at,
                resolved_by=incident.resolved_by,
                alerts=[
                    IncidentAlertSummary(
                        rule=s.rule,
                        state=AlertStateName(s.state),
                        value=s.last_value,
                        evidence=stored_evidence(s),
                    )
                    for s in states
                    if s.incident_id == incident.id
                ],
            )
            for incident in incidents
        ]

    def list_incidents(self, include_resolved: bool = False, limit: int = 100) -> list[dict[str, object]]:
        """`summaries()` as JSON-ready dicts (times in ISO 8601), for scripts and tests."""
        return [s.model_dump(mode="json") for s in self.summaries(include_resolved, limit)]

    def list_silences(self, include_expired: bool = False) -> list[Silence]:
        now = self.clock.now()
        with Session(self.engine) as session:
            rows = list(session.exec(select(Silence).order_by(col(Silence.id))).all())
        return [s for s in rows if include_expired or (s.expired_at is None and s.ends_at > now)]
