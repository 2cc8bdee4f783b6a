"""The daily email digest: one mail per digest receiver and day, about its team's non-paging incidents.

A receiver with ``digest: true`` is sent, once a day at ``digest_at`` local time, the incidents
of its team (of the non-critical severities it takes) that were open at any moment since the
previous digest: opened, still open, or resolved in that time. Critical incidents are mailed at
once instead (routing.immediate_routes).

The digest is written to the outbox like any other message (receiver ``team/name``), so an
unreachable SMTP server delays it and never drops it, and its dedup key names the receiver and
the local date, so however often this runs (every minute, on any replica, after a restart) a day
has at most one digest. A day with nothing to report sends nothing: a mail that says nothing
teaches people to skip the mail. A team with business hours gets digests on its business days
only; Monday's covers the weekend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from ..model.model import Model
from ..model.receivers import EmailReceiver
from ..model.schema import Team
from ..store.outbox import enqueue
from ..store.tables import Incident, OutboxMessage
from .calendar import WEEKDAYS
from .classify import group_matchers
from .enums import NoticeKind
from .notices import Digest, DigestEntry, Message, UnknownVersion, read_message
from .routing import Route, digest_routes

PAGING = "critical"
_LOOK_BACK_DAYS = 8  # a week of non-business days and one more: always reaches a digest day


@dataclass(frozen=True)
class DigestSlot:
    """One scheduled digest of a receiver: its local date and the instant it covers up to."""

    route: Route
    local_date: date
    until: datetime  # aware UTC
    timezone: str

    @property
    def dedup_key(self) -> str:
        return f"digest:{self.route.key}:{self.local_date.isoformat()}"


def digest_timezone(receiver: EmailReceiver, team: Team) -> str:
    """The receiver's zone, else the team's business-hours zone, else UTC."""
    if receiver.digest_timezone:
        return receiver.digest_timezone
    return team.business_hours.timezone if team.business_hours is not None else "UTC"


def _sends_on(team: Team, day: date) -> bool:
    return team.business_hours is None or WEEKDAYS[day.weekday()] in team.business_hours.days


def slots_before(route: Route, team: Team, now: datetime) -> list[DigestSlot]:
    """This receiver's digest instants at or before `now`, newest first (the last week and a day)."""
    receiver = route.receiver
    assert isinstance(receiver, EmailReceiver)
    tz = digest_timezone(receiver, team)
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    slots = []
    for back in range(_LOOK_BACK_DAYS + 1):
        day = today - timedelta(days=back)
        # Wall-clock time: 08:00 stays 08:00 across daylight saving (zoneinfo folds the gap forward).
        at = datetime.combine(day, receiver.digest_at, tzinfo=zone).astimezone(UTC)
        if at <= now and _sends_on(team, day):
            slots.append(DigestSlot(route, day, at, tz))
    return slots


def due_slot(route: Route, team: Team, now: datetime) -> tuple[DigestSlot, datetime] | None:
    """The latest digest instant reached and the start of the time it covers by default."""
    slots = slots_before(route, team, now)
    if not slots:
        return None
    since = slots[1].until if len(slots) > 1 else slots[0].until - timedelta(days=1)
    return slots[0], since


def _last_until(session: Session, route: Route) -> datetime | None:
    """Where the receiver's previous digest ended: the next one starts there, so nothing falls between."""
    rows = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.thread_key).startswith(f"digest:{route.key}:", autoescape=True))
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    ).all()
    for row in rows:
        try:
            message = read_message(row.kind, row.payload, at=row.created_at)
        except (UnknownVersion, ValueError):
            return None
        if message.digest is not None:
            return _aware(message.digest.until)
    return None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def entries(
    session: Session, team: str, severities: Sequence[str], since: datetime, until: datetime
) -> list[DigestEntry]:
    """The team's incidents of these severities that were open at some moment in [since, until)."""
    rows = session.exec(
        select(Incident)
        .where(
            Incident.team == team,
            col(Incident.severity).in_(severities),
            col(Incident.opened_at) < until,
        )
        .order_by(col(Incident.id))
    ).all()
    found = []
    for incident in rows:
        resolved_at = _aware(incident.resolved_at) if incident.resolved_at is not None else None
        if resolved_at is not None and resolved_at < since:
            continue
        assert incident.id is not None
        title, flow, url = _picture(session, incident)
        found.append(
            DigestEntry(
                incident=incident.id,
                title=title,
                flow=flow,
                severity=incident.severity,
                opened_at=_aware(incident.opened_at),
                resolved_at=resolved_at if resolved_at is not None and resolved_at < until else None,
                resolved_by=incident.resolved_by,
                acked_by=incident.acked_by,
                url=url,
            )
        )
    return found


def _picture(session: Session, incident: Incident) -> tuple[str, str | None, str | None]:
    """Title, flow and link from the newest message about the incident (its chat thread)."""
    flow = group_matchers(incident.group_key).get("flow")
    row = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.thread_key == f"incident:{incident.id}")
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    ).first()
    if row is not None:
        try:
            view = read_message(row.kind, row.payload, at=row.created_at).view
        except (UnknownVersion, ValueError):
            view = None
        if view is not None:
            url = view.primary.incident_url if view.primary is not None else None
            return view.title, view.flow, url
    return f"Incident #{incident.id}", flow, None


def queue_digests(session: Session, model: Model, now: datetime) -> list[str]:
    """Write each digest that is due and not yet written; returns their dedup keys."""
    written = []
    for team_id, team in sorted(model.teams.items()):
        for route in digest_routes(team_id, team):
            key = _queue_one(session, route, team, now)
            if key is not None:
                written.append(key)
    return written


def _queue_one(session: Session, route: Route, team: Team, now: datetime) -> str | None:
    due = due_slot(route, team, now)
    if due is None:
        return None
    slot, default_since = due
    exists = session.exec(select(OutboxMessage.id).where(OutboxMessage.dedup_key == slot.dedup_key)).first()
    if exists is not None:
        return None
    since = _last_until(session, route) or default_since
    if since >= slot.until:
        return None
    assert isinstance(route.receiver, EmailReceiver)
    severities = [s for s in route.receiver.severities if s != PAGING]
    found = entries(session, route.team, severities, since, slot.until)
    if not found:
        return None
    digest = Digest(
        at=slot.until, team=route.team, since=since, until=slot.until, timezone=slot.timezone, entries=found
    )
    message = Message(kind=NoticeKind.POST, digest=digest)
    enqueue(
        session,
        dedup_key=slot.dedup_key,
        thread_key=slot.dedup_key,
        kind=NoticeKind.POST,
        team=route.team,
        channel=route.key,
        receiver=route.key,
        payload=message.to_json(),
        now=now,
    )
    return slot.dedup_key
