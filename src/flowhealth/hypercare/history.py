"""What happened in a period, read from the store: incidents with their timings, alert firings, fixes, samples."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..alerting.enums import ActionSource
from ..alerting.incidents import group_matchers
from ..alerting.silences import identity, matchers_of
from ..model.model import Model
from ..store.records import Intervention
from ..store.tables import AlertEvent, Incident, IncidentEvent, Sample, Silence

# An incident that cleared on its own this fast, with nobody acknowledging or resolving it, told
# people something they did not need to act on.
NOISE_MAX_DURATION = timedelta(minutes=15)
FLAP_FIRINGS = 3  # firings of one alert series within the period that make it flapping


class Outcome(StrEnum):
    """How an incident ended, as the review reports it."""

    OPEN = "still open"
    FIXED_BY_HAND = "fixed by hand"
    SILENCED = "silenced"
    RESOLVED_BY_PERSON = "resolved by a person"
    ACKED_THEN_CLEARED = "acknowledged, then cleared"
    CLEARED_BY_ITSELF = "cleared by itself"


@dataclass(frozen=True)
class IncidentFacts:
    """One incident as the review sees it at the end of the period."""

    id: int
    flow: str | None
    team: str
    severity: str
    opened_at: datetime
    acked_at: datetime | None
    acked_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    fixes: int = 0  # manual interventions on its flow while it was open
    silenced_by: str | None = None  # who silenced it (or its flow) while it was open
    acked_via: ActionSource | None = None  # where it was acknowledged; None: unknown (older records) or never

    @property
    def acked_where(self) -> str | None:
        """`Slack`, `PagerDuty`, `the API`, `the CLI`; None when not known."""
        return self.acked_via.label if self.acked_via is not None else None

    @property
    def tta(self) -> float | None:
        return None if self.acked_at is None else (self.acked_at - self.opened_at).total_seconds()

    @property
    def ttr(self) -> float | None:
        return None if self.resolved_at is None else (self.resolved_at - self.opened_at).total_seconds()

    @property
    def outcome(self) -> Outcome:
        """How it ended: people's actions count before 'cleared by itself'."""
        if self.resolved_at is None:
            return Outcome.OPEN
        if self.fixes:
            return Outcome.FIXED_BY_HAND
        if self.silenced_by is not None:
            return Outcome.SILENCED
        if self.resolved_by is not None:
            return Outcome.RESOLVED_BY_PERSON
        if self.acked_at is not None:
            return Outcome.ACKED_THEN_CLEARED
        return Outcome.CLEARED_BY_ITSELF

    @property
    def noise(self) -> bool:
        """Cleared by itself, quickly, with nobody acknowledging, fixing, silencing or resolving it."""
        return (
            self.outcome is Outcome.CLEARED_BY_ITSELF
            and self.resolved_at is not None
            and self.resolved_at - self.opened_at <= NOISE_MAX_DURATION
        )


@dataclass(frozen=True)
class SeriesPeak:
    flow: str
    signal: str
    labels: dict[str, str]
    peak: float | None
    last: float | None


@dataclass(frozen=True)
class History:
    """Everything of one period the figures are computed from."""

    start: datetime
    end: datetime
    incidents: list[IncidentFacts]
    firings: list[AlertEvent]
    interventions: list[Intervention]
    silences: list[Silence]
    series: list[SeriesPeak]


def incident_flow(model: Model, group_key: str) -> str | None:
    """The flow an incident is about, from its group key (team|flow=..., rule=..., signal=flow/...)."""
    parts = group_matchers(group_key)
    if "flow" in parts:
        return parts["flow"]
    if "rule" in parts and parts["rule"] in model.all_rules():
        return model.rule(parts["rule"]).flow
    return None  # grouped per team, or a storm spanning several flows


def _incidents(session: Session, model: Model, start: datetime, end: datetime) -> list[IncidentFacts]:
    rows = session.exec(select(Incident).where(col(Incident.opened_at) >= start, col(Incident.opened_at) < end)).all()
    ids = [r.id for r in rows]
    first_ack: dict[int, IncidentEvent] = {}
    if ids:
        events = session.exec(
            select(IncidentEvent)
            .where(col(IncidentEvent.incident_id).in_(ids), IncidentEvent.event == "acked", col(IncidentEvent.at) < end)
            .order_by(col(IncidentEvent.at))
        ).all()
        for event in events:
            first_ack.setdefault(event.incident_id, event)
    out = []
    for r in rows:
        assert r.id is not None
        ack = first_ack.get(r.id)
        # Seen from the end of the period: what happened later has not happened yet.
        resolved = r.resolved_at if r.resolved_at is not None and r.resolved_at <= end else None
        out.append(
            IncidentFacts(
                r.id,
                incident_flow(model, r.group_key),
                r.team,
                r.severity,
                r.opened_at,
                ack.at if ack else None,
                ack.actor if ack else None,
                resolved,
                r.resolved_by if resolved else None,
                acked_via=_source(ack.source) if ack else None,
            )
        )
    return sorted(out, key=lambda i: i.opened_at)


def _source(value: str | None) -> ActionSource | None:
    try:
        return ActionSource(value) if value else None
    except ValueError:
        return None  # written by a newer flowhealth


def _series(session: Session, model: Model, start: datetime, end: datetime) -> list[SeriesPeak]:
    """Peak and last value of every series of the signal kinds the review reports on."""
    wanted = {
        (ref.flow_id, ref.signal_id)
        for ref in model.signals()
        if ref.signal.kind.value in ("delay", "staleness", "rejections", "mismatches", "mismatch_amount")
    }
    window = (col(Sample.observed_at) >= start, col(Sample.observed_at) < end)
    key = (col(Sample.flow), col(Sample.signal), col(Sample.labels))
    # Past sqlmodel's typed select overloads, so this one is plain SQLAlchemy. One query: each
    # series' peak and last time in the window, joined back to the sample at that last time.
    grouped = (
        sa_select(*key, func.max(Sample.value).label("peak"), func.max(Sample.observed_at).label("last_at"))
        .where(*window)
        .group_by(*key)
        .subquery()
    )
    sample = Sample.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa_select(grouped.c.flow, grouped.c.signal, grouped.c.labels, grouped.c.peak, sample.c.value).join_from(
            grouped,
            sample,
            (sample.c.flow == grouped.c.flow)
            & (sample.c.signal == grouped.c.signal)
            & (sample.c.labels == grouped.c.labels)
            & (sample.c.observed_at == grouped.c.last_at),
        )
    )
    found: dict[tuple[str, str, str], tuple[float | None, float | None]] = {}
    for f, s, lb, peak, last in rows.all():
        if (f, s) in wanted:
            found.setdefault((f, s, lb), (peak, last))  # two samples at one instant: either is the last
    return [
        SeriesPeak(flow, signal, json.loads(labels), peak, last)
        for (flow, signal, labels), (peak, last) in sorted(found.items())
    ]


def load_history(engine: Engine, model: Model, start: datetime, end: datetime) -> History:
    """Read one period [start, end) from the state database."""
    with Session(engine) as session:
        firings = list(
            session.exec(
                select(AlertEvent)
                .where(AlertEvent.event == "firing", col(AlertEvent.at) >= start, col(AlertEvent.at) < end)
                .order_by(col(AlertEvent.at))
            ).all()
        )
        interventions = list(
            session.exec(
                select(Intervention)
                .where(col(Intervention.performed_at) >= start, col(Intervention.performed_at) < end)
                .order_by(col(Intervention.performed_at))
            ).all()
        )
        silences = list(
            session.exec(select(Silence).where(col(Silence.created_at) >= start, col(Silence.created_at) < end)).all()
        )
        silenced = _silencers(session, start, end)
        return History(
            start,
            end,
            [_with_actions(model, i, interventions, silenced, end) for i in _incidents(session, model, start, end)],
            firings,
            interventions,
            silences,
            _series(session, model, start, end),
        )


def _silencers(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, str, Silence | None, int]]:
    """(when, who, the silence or None, incident id or 0) for every silencing during the period."""
    out: list[tuple[datetime, str, Silence | None, int]] = []
    for silence in session.exec(
        select(Silence).where(col(Silence.created_at) >= start, col(Silence.created_at) < end)
    ).all():
        out.append((silence.created_at, silence.author, silence, 0))
    for event in session.exec(
        select(IncidentEvent).where(
            IncidentEvent.event == "silenced", col(IncidentEvent.at) >= start, col(IncidentEvent.at) < end
        )
    ).all():
        out.append((event.at, event.actor or "unknown", None, event.incident_id))
    return out


def _with_actions(
    model: Model,
    incident: IncidentFacts,
    interventions: list[Intervention],
    silenced: list[tuple[datetime, str, Silence | None, int]],
    end: datetime,
) -> IncidentFacts:
    """What people did while the incident was open: fixes on its flow, silences that muted it."""
    until = incident.resolved_at or end
    fixes = sum(1 for i in interventions if i.flow == incident.flow and incident.opened_at <= i.performed_at <= until)
    who = None
    for at, author, silence, incident_id in sorted(silenced, key=lambda s: s[0]):
        if not incident.opened_at <= at <= until:
            continue
        if incident_id == incident.id or (
            silence is not None and incident.flow is not None and _mutes(model, silence, incident.flow)
        ):
            who = author
            break
    return replace(incident, fixes=fixes, silenced_by=who)


def _mutes(model: Model, silence: Silence, flow: str) -> bool:
    matchers = matchers_of(silence)
    return any(
        identity(model, rule_id, model.rule_owner(rule_id)).matched_by(matchers)
        for rule_id, rule in model.all_rules().items()
        if rule.flow == flow
    )


def flapping(firings: list[AlertEvent]) -> dict[tuple[str, str, str], int]:
    """(flow, rule, labels) -> firings, for series that fired at least FLAP_FIRINGS times."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for event in firings:
        counts[(event.flow, event.rule, event.labels)] += 1
    return {k: n for k, n in counts.items() if n >= FLAP_FIRINGS}
