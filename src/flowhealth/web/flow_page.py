"""A flow's page: its signals over a range, incidents, silences, interventions, probes and owners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from ..alerting.enums import IncidentStatus
from ..alerting.silences import identity, matchers_of
from ..hypercare.board import board_data
from ..hypercare.history import incident_flow
from ..links import Links
from ..model.durations import human_duration
from ..model.model import Model
from ..store.records import Intervention
from ..store.tables import Incident, ProbeState, Silence
from .charts import LineChart
from .history import BandSource, no_bands
from .signal_charts import signal_charts

BINS = 96


@dataclass(frozen=True)
class Owner:
    """Who is paged for what: the flow's owner, each failure mode's owner, and each rule's."""

    what: str
    team: str
    name: str


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    took: str  # open for, or took to resolve


@dataclass
class FlowPage:
    flow: str
    start: datetime
    end: datetime
    range_text: str
    board: dict[str, Any]  # this flow's entry of the board: status, alerts, current values
    charts: dict[str, LineChart]
    incidents: list[IncidentRow]
    silences: list[Silence]
    interventions: list[Intervention]
    probes: list[ProbeState]
    owners: list[Owner]


def _owners(model: Model, flow_id: str) -> list[Owner]:
    flow = model.flows[flow_id]

    def named(what: str, team: str) -> Owner:
        t = model.teams.get(team)
        return Owner(what, team, (t.name if t and t.name else team))

    out = [named("the flow", flow.owner)]
    out += [named(f"failure mode {mode}", team) for mode, team in sorted(flow.failure_owners.items())]
    # Built-in probe-failing rules go to the flow's owner; listing one per signal says nothing new.
    for rule_id, rule in sorted(model.rules.items()):
        if rule.flow == flow_id:
            why = f"failure mode {rule.failure_mode}" if rule.failure_mode else "the flow's owner"
            out.append(named(f"rule {rule_id} ({why})", model.rule_owner(rule_id)))
    return out


def _mutes_flow(model: Model, flow_id: str, silence: Silence) -> bool:
    matchers = matchers_of(silence)
    return any(
        identity(model, r, model.rule_owner(r)).matched_by(matchers)
        for r, rule in model.all_rules().items()
        if rule.flow == flow_id
    )


def flow_page(
    model: Model,
    engine: Engine,
    links: Links,
    flow_id: str,
    start: datetime,
    end: datetime,
    bands: BandSource = no_bands,
) -> FlowPage:
    """Everything the flow page shows over [start, end)."""
    board = next(f for f in board_data(model, engine, end, links)["flows"] if f["flow"] == flow_id)
    charts = signal_charts(
        model, engine, start, end, flows={flow_id}, bins=BINS, width=640, height=120, bands=bands, axis=True
    )
    with Session(engine) as session:
        rows = session.exec(
            select(Incident)
            .where(or_(col(Incident.opened_at) >= start, Incident.status == IncidentStatus.OPEN))
            .where(col(Incident.opened_at) < end)
            .order_by(col(Incident.opened_at).desc())
        ).all()
        incidents = [
            IncidentRow(i, human_duration((i.resolved_at or end) - i.opened_at))
            for i in rows
            if incident_flow(model, i.group_key) == flow_id
        ]
        silences = [
            s
            for s in session.exec(
                select(Silence).where(col(Silence.ends_at) >= start, col(Silence.starts_at) < end)
            ).all()
            if _mutes_flow(model, flow_id, s)
        ]
        interventions = list(
            session.exec(
                select(Intervention)
                .where(Intervention.flow == flow_id)
                .where(col(Intervention.performed_at) >= start, col(Intervention.performed_at) < end)
                .order_by(col(Intervention.performed_at).desc())
            ).all()
        )
        probes = list(
            session.exec(select(ProbeState).where(ProbeState.flow == flow_id).order_by(col(ProbeState.signal))).all()
        )
    return FlowPage(
        flow=flow_id,
        start=start,
        end=end,
        range_text=human_duration(end - start),
        board=board,
        charts={signal: chart for (_, signal), chart in charts.items()},
        incidents=incidents,
        silences=sorted(silences, key=lambda s: s.starts_at, reverse=True),
        interventions=interventions,
        probes=probes,
        owners=_owners(model, flow_id),
    )
