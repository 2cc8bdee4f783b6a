"""Incidents: alerts of one owner and group key, one message, acked and escalated together.

Every evaluation cycle reconciles incidents with alert states (so a restart changes nothing):
which firing alerts are shown, held by a maintenance window, muted by a silence, or suppressed
under the incident of a system that is down; what each incident's message should say now; and
whether it is time to escalate. Messages go to the outbox in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from ..model.durations import format_duration
from ..model.model import Model
from ..model.probes import TraceProbe
from ..store.outbox import enqueue
from ..store.tables import AlertState, Incident, IncidentEvent, OutboxMessage, Silence
from ..store.types import labels_of
from .calendar import in_business_hours, window_active
from .evaluator import FIRING, CycleHook, EvidenceFn, Transition
from .payload import Links, format_value
from .silences import active_silences, identity, matchers_of, silencing
from .view import SEVERITY_ORDER, Member, essence_hash, incident_view

DEFAULT_ACK_TTL = timedelta(hours=4)
STORM_THRESHOLD = 5  # new incidents of one team within STORM_WINDOW before flood control
STORM_WINDOW = timedelta(minutes=2)


def storm_key(team: str) -> str:
    return f"{team}|storm"


def group_matchers(group_key: str) -> dict[str, str]:
    """The flow and rule an incident's group key (`IncidentManager.group_key`) names, where it names them."""
    _, _, groups = group_key.partition("|")
    out: dict[str, str] = {}
    for part in groups.split(","):
        key, _, value = part.partition("=")
        if key == "signal":
            out["flow"] = value.split("/", 1)[0]
        elif key in ("flow", "rule"):
            out[key] = value
    return out


def _recent(incidents: list[Incident], team: str, now: datetime) -> int:
    return sum(
        1
        for i in incidents
        if i.team == team and i.opened_at >= now - STORM_WINDOW and not i.group_key.endswith("|storm")
    )


@dataclass
class Context:
    """What holds for every alert in this cycle."""

    now: datetime
    silences: list[Silence]
    held_systems: dict[str, str]  # system -> maintenance window id
    down: dict[str, AlertState] = field(default_factory=dict)  # system -> alert marking it down
    by_incident: dict[int, list[AlertState]] = field(default_factory=dict)
    _classified: dict[int, tuple[str, Silence | None, str | None]] = field(default_factory=dict)

    def index(self, states: list[AlertState]) -> None:
        self.by_incident.clear()
        for state in states:
            if state.incident_id is not None:
                self.by_incident.setdefault(state.incident_id, []).append(state)


class IncidentManager(CycleHook):
    """Turns alert states into incidents and the messages about them."""

    def __init__(self, model: Model, links: Links, evidence: EvidenceFn | None = None) -> None:
        self.model = model
        self.links = links
        self.evidence = evidence

    # -- the cycle ---------------------------------------------------------------------------

    def after_cycle(self, session: Session, now: datetime, transitions: list[Transition]) -> None:
        # Evidence queries reach into the flow's systems and may run up to their timeout: they run
        # before this transaction writes anything (the next query flushes the cycle's states), so
        # no other writer of the state database waits on them.
        evidence = self._collect_evidence(transitions, now)
        states = list(session.exec(select(AlertState)).all())
        fired_now = {(t.rule, t.labels) for t in transitions if t.event == "firing"}
        for state in states:
            if (state.rule, state.labels) in fired_now:
                state.evidence = evidence[state.rule]
        ctx = self.context(session, states, now)
        incidents = self._attach(session, states, ctx)
        ctx.index(states)
        fired = {(t.rule, t.labels): t for t in transitions}
        for incident in incidents:
            self._reconcile(session, incident, states, ctx, fired)
        self._announce_silences(session, now)

    def context(self, session: Session, states: list[AlertState], now: datetime) -> Context:
        held = {
            system: window_id
            for window_id, window in sorted(self.model.maintenance_windows.items())
            if window_active(window, now)
            for system in window.systems
        }
        ctx = Context(now, active_silences(session, now), held)
        for state in states:
            # Uncached on purpose: `down` is still being filled, and classify() memoizes.
            if (
                state.state == FIRING
                and self.model.rule(state.rule).marks_down
                and self._classify(state, ctx)[0] == "active"
            ):
                for system in self.model.rule(state.rule).marks_down:
                    ctx.down.setdefault(system, state)
        return ctx

    def classify(self, state: AlertState, ctx: Context) -> tuple[str, Silence | None, str | None]:
        """active, held (maintenance), silenced, or suppressed (a system it needs is down)."""
        known = ctx._classified.get(id(state))
        if known is None or not ctx.down:
            known = ctx._classified[id(state)] = self._classify(state, ctx)
        return known

    def _classify(self, state: AlertState, ctx: Context) -> tuple[str, Silence | None, str | None]:
        rule = self.model.rule(state.rule)
        systems = self.model.flow_systems(rule.flow)
        for system in systems:
            if system in ctx.held_systems:
                return "held", None, f"maintenance window {ctx.held_systems[system]}"
        silence = silencing(ctx.silences, identity(self.model, state.rule, state.owner))
        if silence is not None:
            return "silenced", silence, f"silenced by {silence.author}"
        for system in systems:
            parent = ctx.down.get(system)
            if parent is not None and system not in rule.marks_down:
                return "suppressed", None, f"{system} is down ({parent.rule})"
        return "active", None, None

    def group_key(self, state: AlertState) -> str:
        rule = self.model.rule(state.rule)
        values = {"flow": rule.flow, "rule": state.rule, "team": state.owner, "signal": f"{rule.flow}/{rule.signal}"}
        return f"{state.owner}|" + ",".join(f"{key}={values[key]}" for key in sorted(rule.group_by))

    def _collect_evidence(self, transitions: list[Transition], now: datetime) -> dict[str, str | None]:
        """Evidence of every rule that fired this cycle, as stored JSON (None: none to show)."""
        out: dict[str, str | None] = {}
        for t in transitions:
            if t.event != "firing" or t.rule in out:
                continue
            evidence = None
            rule = self.model.rule(t.rule)
            # Trace signals bring their own evidence: the journeys (e.g. order ids) behind the value.
            traced = isinstance(self.model.signal(rule.flow, rule.signal).probe, TraceProbe)
            if self.evidence is not None and (rule.evidence is not None or traced):
                evidence = self.evidence(t.rule, now)
            out[t.rule] = json.dumps(evidence) if evidence else None
        return out

    def _attach(self, session: Session, states: list[AlertState], ctx: Context) -> list[Incident]:
        open_incidents = list(session.exec(select(Incident).where(Incident.status == "open")).all())
        by_key = {i.group_key: i for i in open_incidents}
        by_id = {i.id: i for i in open_incidents}
        for state in states:
            if state.state != FIRING:
                continue
            if state.incident_id in by_id:
                continue
            if state.incident_id is not None:
                previous = session.get(Incident, state.incident_id)
                # Resolved by a person while still firing: stays quiet until it clears and fires anew.
                if (
                    previous is not None
                    and previous.resolved_by
                    and previous.resolved_at
                    and state.firing_since
                    and state.firing_since <= previous.resolved_at
                ):
                    continue
            key = self.group_key(state)
            incident = by_key.get(key)
            storm = storm_key(state.owner)
            if incident is None and (
                storm in by_key or _recent(open_incidents, state.owner, ctx.now) >= STORM_THRESHOLD
            ):
                # Flood control: past a handful of new incidents a team gets one storm message, not 500.
                key, incident = storm, by_key.get(storm)
            if incident is None:
                rule = self.model.rule(state.rule)
                incident = Incident(
                    group_key=key,
                    team=state.owner,
                    status="open",
                    severity=rule.severity,
                    opened_at=ctx.now,
                    updated_at=ctx.now,
                )
                session.add(incident)
                session.flush()
                session.add(_event(incident, event="opened", at=ctx.now, detail=key))
                by_key[key] = incident
                by_id[incident.id] = incident
                open_incidents.append(incident)
            state.incident_id = incident.id
            session.add(state)
        return open_incidents

    def members(self, incident: Incident, states: list[AlertState], ctx: Context) -> list[Member]:
        out = []
        if not ctx.by_incident:
            ctx.index(states)
        for state in ctx.by_incident.get(incident.id or -1, []):
            if state.state != FIRING:
                if state.resolved_at is not None and state.resolved_at >= incident.opened_at:
                    out.append(Member(state, "resolved"))
                continue
            status, silence, note = self.classify(state, ctx)
            out.append(Member(state, status, silence, note))
        return out

    def suppressed_under(self, incident: Incident, states: list[AlertState], ctx: Context) -> list[AlertState]:
        parents = {id(s) for s in ctx.down.values() if s.incident_id == incident.id}
        if not parents:
            return []
        out = []
        for state in states:
            if state.state == FIRING and self.classify(state, ctx)[0] == "suppressed":
                rule = self.model.rule(state.rule)
                if any(id(ctx.down[s]) in parents for s in self.model.flow_systems(rule.flow) if s in ctx.down):
                    out.append(state)
        return out

    def _reconcile(
        self,
        session: Session,
        incident: Incident,
        states: list[AlertState],
        ctx: Context,
        fired: dict[tuple[str, str], Transition],
    ) -> None:
        members = self.members(incident, states, ctx)
        firing = [m for m in members if m.state.state == FIRING]
        now = ctx.now
        if not firing:
            incident.status, incident.resolved_at, incident.updated_at = "resolved", now, now
            session.add(incident)
            session.add(_event(incident, event="resolved", at=now))
            if incident.notified_at is not None:
                values = ", ".join(f"{m.state.rule} at {self._value_text(m.state)}" for m in members)
                took = format_duration((now - incident.opened_at).total_seconds())
                line = f":white_check_mark: Resolved after {took}: {values}."
                self.send_update(session, incident, members, states, ctx, line)
            return
        visible = [m for m in firing if m.status == "active"]
        severities = [self.model.rule(m.state.rule).severity for m in (visible or firing)]
        incident.severity = min(severities, key=SEVERITY_ORDER.__getitem__)
        if incident.notified_at is None:
            if visible:
                suppressed = self.suppressed_under(incident, states, ctx)
                view = incident_view(self.model, self.links, incident, members, suppressed, now)
                self._enqueue(session, incident, "open", view, now=now)
                incident.notified_at = now
                incident.view_hash = essence_hash(self.model, incident, members, suppressed)
                incident.next_escalation_at = now + self.escalate_after(incident, firing)
                session.add(_event(incident, event="notified", at=now))
            session.add(incident)
            return
        lines = [self._transition_line(m, fired) for m in members if (m.state.rule, m.state.labels) in fired]
        self._expire_ack(session, incident, now, lines, firing)
        self.send_update(session, incident, members, states, ctx, "\n".join(line for line in lines if line) or None)
        if visible:
            self._maybe_escalate(session, incident, members, states, ctx)

    def _value_text(self, state: AlertState) -> str:
        rule = self.model.rule(state.rule)
        unit = self.model.signal(rule.flow, rule.signal).unit
        return format_value(state.resolved_value, unit, labels_of(state.labels))

    def _transition_line(self, member: Member, fired: dict[tuple[str, str], Transition]) -> str | None:
        transition = fired[(member.state.rule, member.state.labels)]
        rule = self.model.rule(member.state.rule)
        if transition.event == "firing":
            return f":red_circle: Also firing: {member.state.rule} ({rule.severity})" + (
                f" — {member.note}" if member.note else ""
            )
        if transition.event == "resolved":
            unit = self.model.signal(rule.flow, rule.signal).unit
            value = format_value(transition.value, unit, labels_of(member.state.labels))
            return f":white_check_mark: {member.state.rule} resolved at {value}"
        return None

    def send_update(
        self,
        session: Session,
        incident: Incident,
        members: list[Member],
        states: list[AlertState],
        ctx: Context,
        line: str | None,
    ) -> None:
        """Edit the incident's message if it says something new, with an optional thread line."""
        suppressed = self.suppressed_under(incident, states, ctx)
        digest = essence_hash(self.model, incident, members, suppressed)
        if digest == incident.view_hash and not line:
            return  # building the view renders every alert's templates: only when it changed
        view = incident_view(self.model, self.links, incident, members, suppressed, ctx.now)
        incident.view_hash = digest
        incident.updated_at = ctx.now
        session.add(incident)
        self._enqueue(session, incident, "update", view, thread_line=line, now=ctx.now)

    # -- escalation --------------------------------------------------------------------------

    def escalate_after(self, incident: Incident, firing: list[Member]) -> timedelta:
        team = self.model.teams[incident.team]
        overrides = [r.escalate_after for m in firing if (r := self.model.rule(m.state.rule)).escalate_after]
        return min([team.escalate_after, *overrides])

    def _expire_ack(
        self, session: Session, incident: Incident, now: datetime, lines: list[str | None], firing: list[Member]
    ) -> None:
        if incident.acked_by and incident.ack_expires_at and incident.ack_expires_at <= now:
            team = self.model.teams[incident.team]
            lines.append(
                f":hourglass: The acknowledgement by {incident.acked_by} expired and this still holds. {team.oncall or ''}".rstrip()
            )
            session.add(_event(incident, event="ack_expired", at=now, actor=incident.acked_by))
            incident.acked_by = incident.acked_at = incident.ack_expires_at = None
            incident.next_escalation_at = now + self.escalate_after(incident, firing)

    def _maybe_escalate(
        self, session: Session, incident: Incident, members: list[Member], states: list[AlertState], ctx: Context
    ) -> None:
        now = ctx.now
        firing = [m for m in members if m.state.state == FIRING]
        if incident.acked_by or incident.next_escalation_at is None or now < incident.next_escalation_at:
            return
        team = self.model.teams[incident.team]
        # Outside business hours only critical incidents escalate; the rest wait for the morning.
        if incident.severity != "critical" and not in_business_hours(team.business_hours, now):
            return
        waited = format_duration((now - (incident.notified_at or incident.opened_at)).total_seconds())
        incident.escalations += 1
        incident.next_escalation_at = now + self.escalate_after(incident, firing)
        target = self.model.teams.get(team.escalation) if team.escalation else None
        if target is None:
            line = f":bell: Still not acknowledged after {waited}. {team.oncall or team.slack_channel}"
        else:
            who = target.oncall or target.name or team.escalation
            line = f":rotating_light: Not acknowledged after {waited}: escalating to {who} ({target.slack_channel})."
        session.add(_event(incident, event="escalated", at=now, detail=team.escalation))
        self.send_update(session, incident, members, states, ctx, line)
        if target is not None:
            view = incident_view(self.model, self.links, incident, members, [], now)
            text = (
                f":rotating_light: Escalated to {target.oncall or target.name}: {view['title']} "
                f"(flow {view['flow']}, owned by {team.name or incident.team} in {team.slack_channel}, "
                f"unacknowledged for {waited}). Runbook: {view['alerts'][0]['runbook']['url'] if view['alerts'] else ''}"
            )
            self._enqueue(session, incident, "post", view, channel=target.slack_channel, text=text, now=now)

    # -- silences ----------------------------------------------------------------------------

    def _announce_silences(self, session: Session, now: datetime) -> None:
        pending = session.exec(
            select(Silence).where((col(Silence.announced_start).is_(False)) | (col(Silence.announced_end).is_(False)))
        ).all()
        for silence in pending:
            ended = silence.expired_at is not None or silence.ends_at <= now
            if not silence.announced_start and silence.starts_at <= now and not ended:
                text = (
                    f":zzz: Silence #{silence.id} by {silence.author} until {silence.ends_at:%Y-%m-%d %H:%M} UTC "
                    f"({_matchers_text(silence)}): {silence.reason}"
                )
                self._notice(session, silence, "start", text, now)
                silence.announced_start = True
            elif silence.announced_start and not silence.announced_end and ended:
                self._notice(
                    session, silence, "end", f":bell: Silence #{silence.id} ({_matchers_text(silence)}) has ended.", now
                )
                silence.announced_end = True
            elif ended and not silence.announced_start:
                silence.announced_start = silence.announced_end = True  # never took effect: nothing to say
            session.add(silence)

    def silence_teams(self, silence: Silence) -> list[str]:
        """Teams owning an alert the silence matches: they are told it started and ended."""
        matchers = matchers_of(silence)
        teams = {
            self.model.rule_owner(r)
            for r in self.model.all_rules()
            if identity(self.model, r, self.model.rule_owner(r)).matched_by(matchers)
        }
        if "team" in matchers:
            teams = {matchers["team"]}
        return sorted(teams)

    def _notice(self, session: Session, silence: Silence, what: str, text: str, now: datetime) -> None:
        for team_id in self.silence_teams(silence):
            team = self.model.teams[team_id]
            key = f"silence:{silence.id}:{what}:{team_id}"
            enqueue(
                session,
                dedup_key=key,
                thread_key=key,
                kind="post",
                team=team_id,
                channel=team.slack_channel,
                payload={"view": None, "thread_line": None, "text": text},
                now=now,
            )

    # -- outbox ------------------------------------------------------------------------------

    def _enqueue(
        self,
        session: Session,
        incident: Incident,
        kind: str,
        view: dict[str, object],
        *,
        now: datetime,
        thread_line: str | None = None,
        channel: str | None = None,
        text: str | None = None,
    ) -> None:
        assert incident.id is not None
        thread_key = f"incident:{incident.id}"
        payload = {"view": view, "thread_line": thread_line, "text": text}
        if kind == "update" and thread_line is None:
            # A newer picture replaces an undelivered older one: the message shows the latest state.
            waiting = session.exec(
                select(OutboxMessage)
                .where(
                    OutboxMessage.thread_key == thread_key,
                    OutboxMessage.kind == "update",
                    col(OutboxMessage.delivered_at).is_(None),
                )
                .order_by(col(OutboxMessage.id).desc())
            ).first()
            if waiting is not None and json.loads(waiting.payload).get("thread_line") is None and waiting.attempts == 0:
                waiting.payload = json.dumps(payload, sort_keys=True, default=str)
                session.add(waiting)
                return
        incident.message_seq += 1
        team = self.model.teams[incident.team]
        if kind == "post":
            thread_key = f"{thread_key}:post:{incident.message_seq}"
        enqueue(
            session,
            dedup_key=f"incident:{incident.id}:{incident.message_seq}:{kind}",
            thread_key=thread_key,
            kind=kind,
            team=incident.team,
            channel=channel or team.slack_channel,
            payload=payload,
            now=now,
        )


def _event(incident: Incident, **fields: object) -> IncidentEvent:
    assert incident.id is not None
    return IncidentEvent(incident_id=incident.id, **fields)  # type: ignore[arg-type]


def _matchers_text(silence: Silence) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(matchers_of(silence).items()))
