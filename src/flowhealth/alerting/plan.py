"""Stage 2 of the incident pipeline: decide what to tell people, as typed notices.

`Planner` turns an incident, its classified members and the cycle's time into a `Plan`: the
outbox messages to write (each a `Message` of notices with the incident's picture) and the
incident events to record. It does no I/O and renders no words: it sets the incident's own
fields (status, severity, escalation bookkeeping) and leaves wording to notify/.

What it decides: open the incident's message once something in it is active; edit it when it
would say something new (values ticking along do not count); report alerts joining and
clearing, the acknowledgement running out, resolution; and escalate when nobody acknowledged in
time (outside business hours only critical incidents escalate; the rest wait for the morning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..links import Links
from ..model.model import Model
from ..store.tables import AlertState, Incident, Silence
from ..store.types import labels_of
from .calendar import in_business_hours
from .enums import AlertState as State
from .enums import IncidentStatus, MemberStatus, NoticeKind
from .evaluator import Transition
from .notices import (
    AckExpired,
    Cleared,
    Escalated,
    Joined,
    Message,
    Notice,
    Opened,
    Resolved,
    ResolvedValue,
    SilenceEnded,
    SilenceStarted,
)
from .payload import format_value, owner_of
from .view import SEVERITY_ORDER, Member, essence_hash, incident_view, silence_info
from .view_models import as_severity

Fired = Mapping[tuple[str, str], Transition]  # (rule, labels) -> this cycle's transition


@dataclass(frozen=True)
class Outgoing:
    """One outbox message to write."""

    message: Message
    channel: str | None = None  # None: the owning team's channel
    team: str | None = None  # for messages about no incident: the team told
    key: str | None = None  # for messages about no incident: dedup and thread key

    @property
    def kind(self) -> NoticeKind:
        return self.message.kind


@dataclass(frozen=True)
class EventRecord:
    """An incident event to record (opened, notified, escalated, ...)."""

    event: str
    actor: str | None = None
    detail: str | None = None


@dataclass
class Plan:
    outgoing: list[Outgoing] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    def add(self, other: Plan) -> Plan:
        self.outgoing.extend(other.outgoing)
        self.events.extend(other.events)
        return self


def firing_of(members: list[Member]) -> list[Member]:
    return [m for m in members if m.state.state == State.FIRING]


class Planner:
    """Decides an incident's messages from its members; pure given the model and links."""

    def __init__(self, model: Model, links: Links) -> None:
        self.model = model
        self.links = links

    def cycle(
        self, incident: Incident, members: list[Member], suppressed: list[AlertState], fired: Fired, now: datetime
    ) -> Plan:
        """Everything one evaluation cycle has to say about an open incident."""
        firing = firing_of(members)
        if not firing:
            return self.resolve(incident, members, suppressed, now)
        visible = [m for m in firing if m.status == MemberStatus.ACTIVE]
        severities = [self.model.rule(m.state.rule).severity for m in (visible or firing)]
        previous_severity = incident.severity
        incident.severity = min(severities, key=SEVERITY_ORDER.__getitem__)
        if incident.notified_at is None:
            return self.open(incident, members, suppressed, now) if visible else Plan()
        notices: list[Notice] = [n for m in members if (n := self.transition_notice(m, fired, now)) is not None]
        notices = self.renotify(incident, members, notices, previous_severity, now)
        plan = Plan()
        notices.extend(self.expire_ack(incident, firing, now, plan))
        plan.add(self.update(incident, members, suppressed, now, notices))
        if visible:
            plan.add(self.escalate(incident, members, suppressed, now))
        return plan

    def open(self, incident: Incident, members: list[Member], suppressed: list[AlertState], now: datetime) -> Plan:
        view = incident_view(self.model, self.links, incident, members, suppressed, now)
        incident.notified_at = now
        incident.view_hash = essence_hash(self.model, incident, members, suppressed)
        incident.next_escalation_at = now + self.escalate_after(incident, firing_of(members))
        message = Message(kind=NoticeKind.OPEN, view=view, notices=[Opened(at=now)])
        return Plan([Outgoing(message)], [EventRecord("notified")])

    def resolve(self, incident: Incident, members: list[Member], suppressed: list[AlertState], now: datetime) -> Plan:
        """Every alert cleared: the incident is over."""
        incident.status, incident.resolved_at, incident.updated_at = IncidentStatus.RESOLVED, now, now
        plan = Plan(events=[EventRecord("resolved")])
        if incident.notified_at is not None:
            values = [ResolvedValue(rule=m.state.rule, value_text=self._resolved_value(m.state)) for m in members]
            notice = Resolved(at=now, after_seconds=(now - incident.opened_at).total_seconds(), values=values)
            plan.add(self.update(incident, members, suppressed, now, [notice]))
        return plan

    def update(
        self,
        incident: Incident,
        members: list[Member],
        suppressed: list[AlertState],
        now: datetime,
        notices: list[Notice],
    ) -> Plan:
        """Edit the incident's message if it says something new, reporting `notices` in its thread."""
        digest = essence_hash(self.model, incident, members, suppressed)
        if digest == incident.view_hash and not notices:
            return Plan()  # building the view renders every alert's templates: only when it changed
        view = incident_view(self.model, self.links, incident, members, suppressed, now)
        incident.view_hash = digest
        incident.updated_at = now
        return Plan([Outgoing(Message(kind=NoticeKind.UPDATE, view=view, notices=notices))])

    def renotify(
        self, incident: Incident, members: list[Member], notices: list[Notice], previous_severity: str, now: datetime
    ) -> list[Notice]:
        """A new failure in an acknowledged incident ends the ack, as Alertmanager's group_interval re-notifies.

        A rule not yet in the incident, a failure mode not yet in it, or a higher severity is
        another problem than the one acknowledged: the on-call is called in the thread and
        escalation runs again until someone acknowledges the incident as it is now.
        """
        if not incident.acked_by:
            return notices
        out: list[Notice] = []
        for notice in notices:
            if (
                isinstance(notice, Joined)
                and notice.note is None
                and self._is_new_problem(notice, members, previous_severity)
            ):
                notice = notice.model_copy(update={"interrupts_ack": incident.acked_by})
                incident.acked_by, incident.acked_at, incident.ack_expires_at = None, None, None
                incident.next_escalation_at = now + self.escalate_after(incident, firing_of(members))
            out.append(notice)
        return out

    def _is_new_problem(self, joined: Joined, members: list[Member], previous_severity: str) -> bool:
        # Another series of a rule already firing here (a new label value) is the same problem.
        already = {m.state.rule for m in members if m.state.state == State.FIRING and m.state.rule == joined.rule}
        firing_rules = [m.state.rule for m in members if m.state.state == State.FIRING]
        new_rule = firing_rules.count(joined.rule) <= 1 and bool(already)
        worse = SEVERITY_ORDER[joined.severity] < SEVERITY_ORDER.get(previous_severity, len(SEVERITY_ORDER))
        return new_rule or worse

    def transition_notice(self, member: Member, fired: Fired, now: datetime) -> Notice | None:
        transition = fired.get((member.state.rule, member.state.labels))
        if transition is None:
            return None
        labels = labels_of(member.state.labels)
        if transition.event == State.FIRING:
            severity = as_severity(self.model.rule(member.state.rule).severity)
            return Joined(at=now, rule=member.state.rule, labels=labels, severity=severity, note=member.note)
        if transition.event == "resolved":
            rule = self.model.rule(member.state.rule)
            unit = self.model.signal(rule.flow, rule.signal).unit
            shown = format_value(transition.value, unit, labels)
            return Cleared(at=now, rule=member.state.rule, labels=labels, value=transition.value, value_text=shown)
        return None

    # -- escalation -----------------------------------------------------------------------

    def escalate_after(self, incident: Incident, firing: list[Member]) -> timedelta:
        team = self.model.teams[incident.team]
        overrides = [r.escalate_after for m in firing if (r := self.model.rule(m.state.rule)).escalate_after]
        return min([team.escalate_after, *overrides])

    def expire_ack(self, incident: Incident, firing: list[Member], now: datetime, plan: Plan) -> list[Notice]:
        """An acknowledgement that ran out while the incident holds: escalation starts over."""
        if not (incident.acked_by and incident.ack_expires_at and incident.ack_expires_at <= now):
            return []
        notice = AckExpired(at=now, by=incident.acked_by, oncall=self.model.teams[incident.team].oncall)
        plan.events.append(EventRecord("ack_expired", actor=incident.acked_by))
        incident.acked_by = incident.acked_at = incident.ack_expires_at = None
        incident.next_escalation_at = now + self.escalate_after(incident, firing)
        return [notice]

    def escalation_due(self, incident: Incident, now: datetime) -> bool:
        if incident.acked_by or incident.next_escalation_at is None or now < incident.next_escalation_at:
            return False
        team = self.model.teams[incident.team]
        # Outside business hours only critical incidents escalate; the rest wait for the morning.
        return incident.severity == "critical" or in_business_hours(team.business_hours, now)

    def escalate(self, incident: Incident, members: list[Member], suppressed: list[AlertState], now: datetime) -> Plan:
        """Remind the owner and tell the escalation target, when nobody acknowledged in time."""
        if not self.escalation_due(incident, now):
            return Plan()
        team = self.model.teams[incident.team]
        incident.escalations += 1
        incident.next_escalation_at = now + self.escalate_after(incident, firing_of(members))
        target = owner_of(self.model, team.escalation) if team.escalation in self.model.teams else None
        waited = (now - (incident.notified_at or incident.opened_at)).total_seconds()
        notice = Escalated(at=now, level=incident.escalations, waited_seconds=waited, target=target)
        plan = Plan(events=[EventRecord("escalated", detail=team.escalation)])
        plan.add(self.update(incident, members, suppressed, now, [notice]))
        if target is not None:
            view = incident_view(self.model, self.links, incident, members, [], now)
            message = Message(kind=NoticeKind.POST, view=view, notices=[notice])
            plan.outgoing.append(Outgoing(message, channel=target.channel))
        return plan

    # -- silences -------------------------------------------------------------------------

    def silence_announcement(self, silence: Silence, teams: list[str], *, ended: bool, now: datetime) -> Plan:
        """A post to each team whose alerts the silence matches: it started, or it ended."""
        info = silence_info(silence)
        notice: Notice = SilenceEnded(at=now, silence=info) if ended else SilenceStarted(at=now, silence=info)
        what = "end" if ended else "start"
        return Plan(
            [
                Outgoing(
                    Message(kind=NoticeKind.POST, notices=[notice]),
                    channel=self.model.teams[team].slack_channel,
                    team=team,
                    key=f"silence:{silence.id}:{what}:{team}",
                )
                for team in teams
            ]
        )

    def _resolved_value(self, state: AlertState) -> str:
        rule = self.model.rule(state.rule)
        unit = self.model.signal(rule.flow, rule.signal).unit
        return format_value(state.resolved_value, unit, labels_of(state.labels))
