"""Incidents: alerts of one owner and group key, one message, acknowledged and escalated together.

Every evaluation cycle reconciles incidents with alert states (so a restart changes nothing), in
three stages, the way Alertmanager's notification pipeline is a chain of small stages:

1. classify (classify.py, pure): which firing alerts are shown, held by a maintenance window,
   muted by a silence, or suppressed under the incident of a system that is down; and which
   incident each joins (grouping, flood control);
2. plan (plan.py, pure): what each incident's message should say now, as typed notices, and
   whether it is time to escalate;
3. write (outbox_writer.py): the messages go to the outbox in the same transaction.

This module only reads the rows those stages need and hands them along.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from ..evidence import EvidenceFn
from ..links import Links
from ..model.model import Model
from ..store.tables import AlertState, Incident, Silence
from .baseline_live import baseline_expectations
from .classify import (
    Context,
    build_context,
    group_key,
    group_matchers,
    members,
    placement,
    quiet_after_manual_resolve,
    storm_key,
    suppressed_under,
)
from .enums import AlertState as State
from .enums import IncidentStatus
from .evaluator import CycleHook, Transition
from .notices import Notice
from .outbox_writer import OutboxWriter
from .plan import EventRecord, Plan, Planner
from .silences import active_silences, identity, matchers_of
from .view import Member, incident_view
from .view_models import IncidentView

DEFAULT_ACK_TTL = timedelta(hours=4)

__all__ = ["DEFAULT_ACK_TTL", "Context", "IncidentManager", "group_matchers", "storm_key"]


class IncidentManager(CycleHook):
    """Turns alert states into incidents and the messages about them."""

    def __init__(self, model: Model, links: Links, evidence: EvidenceFn | None = None) -> None:
        self.model = model
        self.links = links
        self.evidence = evidence
        self.planner = Planner(model, links)
        self.writer = OutboxWriter(model)

    # -- the cycle ---------------------------------------------------------------------------

    def after_cycle(self, session: Session, now: datetime, transitions: list[Transition]) -> None:
        # Evidence queries reach into the flow's systems and may run up to their timeout: they run
        # before this transaction writes anything (the next query flushes the cycle's states), so
        # no other writer of the state database waits on them.
        evidence = self._collect_evidence(transitions, now)
        # Rows of rules the model no longer has (removed while the service was down) are history only.
        rules = self.model.all_rules()
        states = [state for state in session.exec(select(AlertState)).all() if state.rule in rules]
        fired_now = {(t.rule, t.labels) for t in transitions if t.event == State.FIRING}
        for state in states:
            if (state.rule, state.labels) in fired_now:
                state.evidence = evidence[state.rule]
        ctx = self.context(session, states, now)
        incidents = self._attach(session, states, now)
        ctx.index(states)
        fired = {(t.rule, t.labels): t for t in transitions}
        for incident in incidents:
            plan = self.planner.cycle(
                incident,
                members(self.model, incident, ctx),
                suppressed_under(self.model, incident, states, ctx),
                fired,
                now,
            )
            self.writer.write(session, plan, now, incident)
        self._announce_silences(session, now)

    def context(self, session: Session, states: list[AlertState], now: datetime) -> Context:
        ctx = build_context(self.model, states, active_silences(session, now), now)
        # Baseline alerts explain themselves with what was expected: that reads their history here,
        # so classify and plan stay pure.
        ctx.expected = baseline_expectations(session, self.model, states, now)
        return ctx

    def members(self, incident: Incident, states: list[AlertState], ctx: Context) -> list[Member]:
        if not ctx.by_incident:
            ctx.index(states)
        return members(self.model, incident, ctx)

    def send_update(
        self,
        session: Session,
        incident: Incident,
        members: list[Member],
        states: list[AlertState],
        ctx: Context,
        notices: list[Notice],
    ) -> None:
        """Edit the incident's message if it says something new, reporting `notices` in its thread."""
        suppressed = suppressed_under(self.model, incident, states, ctx)
        plan = self.planner.update(incident, members, suppressed, ctx.now, notices)
        self.writer.write(session, plan, ctx.now, incident)

    def open_views(self, session: Session, now: datetime) -> list[IncidentView]:
        """What every open incident's message says now, oldest first: for boards and reviews."""
        states = list(session.exec(select(AlertState)).all())
        ctx = self.context(session, states, now)
        open_incidents = session.exec(
            select(Incident).where(Incident.status == IncidentStatus.OPEN).order_by(col(Incident.id))
        ).all()
        return [
            incident_view(
                self.model,
                self.links,
                incident,
                members(self.model, incident, ctx),
                suppressed_under(self.model, incident, states, ctx),
                now,
            )
            for incident in open_incidents
        ]

    def _collect_evidence(self, transitions: list[Transition], now: datetime) -> dict[str, str | None]:
        """Evidence of every rule that fired this cycle, as stored JSON (None: none to show)."""
        out: dict[str, str | None] = {}
        for t in transitions:
            if t.event != State.FIRING or t.rule in out:
                continue
            table = self.evidence(t.rule, now) if self.evidence is not None else None
            out[t.rule] = table.model_dump_json() if table else None
        return out

    def _attach(self, session: Session, states: list[AlertState], now: datetime) -> list[Incident]:
        """Put every firing alert without an open incident into one, opening incidents as needed."""
        open_incidents = list(session.exec(select(Incident).where(Incident.status == IncidentStatus.OPEN)).all())
        by_key = {i.group_key: i for i in open_incidents}
        open_ids = {i.id for i in open_incidents}
        for state in states:
            if state.state != State.FIRING or state.incident_id in open_ids:
                continue
            if state.incident_id is not None and quiet_after_manual_resolve(
                state, session.get(Incident, state.incident_id)
            ):
                continue
            key = placement(group_key(self.model, state), state.owner, open_incidents, now)
            incident = by_key.get(key)
            if incident is None:
                incident = self._open(session, key, state, now)
                by_key[key] = incident
                open_ids.add(incident.id)
                open_incidents.append(incident)
            state.incident_id = incident.id
            session.add(state)
        return open_incidents

    def _open(self, session: Session, key: str, state: AlertState, now: datetime) -> Incident:
        incident = Incident(
            group_key=key,
            team=state.owner,
            status=IncidentStatus.OPEN,
            severity=self.model.rule(state.rule).severity,
            opened_at=now,
            updated_at=now,
        )
        session.add(incident)
        session.flush()
        self.writer.write(session, Plan(events=[EventRecord("opened", detail=key)]), now, incident)
        return incident

    # -- silences ----------------------------------------------------------------------------

    def _announce_silences(self, session: Session, now: datetime) -> None:
        pending = session.exec(
            select(Silence).where((col(Silence.announced_start).is_(False)) | (col(Silence.announced_end).is_(False)))
        ).all()
        for silence in pending:
            ended = silence.expired_at is not None or silence.ends_at <= now
            if not silence.announced_start and silence.starts_at <= now and not ended:
                plan = self.planner.silence_announcement(silence, self.silence_teams(silence), ended=False, now=now)
                self.writer.write(session, plan, now)
                silence.announced_start = True
            elif silence.announced_start and not silence.announced_end and ended:
                plan = self.planner.silence_announcement(silence, self.silence_teams(silence), ended=True, now=now)
                self.writer.write(session, plan, now)
                silence.announced_end = True
            elif ended and not silence.announced_start:
                silence.announced_start = silence.announced_end = True  # never took effect: nothing to say
            session.add(silence)

    def silence_teams(self, silence: Silence) -> list[str]:
        """Teams owning an alert the silence matches: they are told it started and ended."""
        matchers = matchers_of(silence)
        if "team" in matchers:
            return [matchers["team"]]
        teams = {
            self.model.rule_owner(r)
            for r in self.model.all_rules()
            if identity(self.model, r, self.model.rule_owner(r)).matched_by(matchers)
        }
        return sorted(teams)
