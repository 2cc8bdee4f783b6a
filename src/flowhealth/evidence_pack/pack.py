"""Everything the evidence pack of one flow says, as data, from the model and the state database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..hypercare.history import IncidentFacts, load_history
from ..hypercare.mapping_changes import RecordedChange, recorded_changes
from ..hypercare.readiness import FlowReadiness, check_readiness
from ..links import Links
from ..model.contracts import LoadedContract
from ..model.facts import ApiLimits, Identifier, Operations, ReleaseWindow
from ..model.model import Model
from ..model.probes import ReconcileProbe
from ..model.runbooks import recovery_steps
from ..model.schema import SignalKind
from ..store.records import MismatchEvidence, latest_evidence
from ..store.samples import current_values
from ..store.tables import AlertState, SignalValue
from ..store.types import labels_of
from .alerts import AlertExample, alert_examples

INCIDENT_WEEKS = 4
SECTIONS = (
    "Owners per failure mode",
    "Contract",
    "Identifiers",
    "Alert examples",
    "Runbook steps",
    "Reconciliation",
    "Operations",
    "Expected business status",
    "Readiness",
    "Incidents of the last 4 weeks",
)


@dataclass(frozen=True)
class Ownership:
    mode: str  # "(flow)" for the flow itself
    team: str
    team_name: str
    channel: str


@dataclass(frozen=True)
class SystemFacts:
    system: str
    name: str
    owner: str
    identifier: Identifier | None
    api_limits: ApiLimits | None
    release_windows: list[str]


@dataclass(frozen=True)
class RunbookSteps:
    runbook: str
    title: str
    rules: list[str]
    steps: list[str]


@dataclass(frozen=True)
class Reconciliation:
    signal: str
    key: str
    values: list[tuple[dict[str, str], float]]
    observed_at: datetime | None
    failing: list[MismatchEvidence]


@dataclass(frozen=True)
class Violations:
    """What the store knows about a contract's violations: current counts and the last alert's payloads."""

    counts: list[tuple[str, str, str, float]]  # signal, field, reason, payloads
    alert_rule: str | None = None
    alert_since: datetime | None = None
    alert_evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class BusinessStatus:
    case: str  # "success" or a failure mode
    owner: str
    status: str


@dataclass
class EvidencePack:
    """One flow's evidence pack."""

    flow: str
    description: str
    criticality: str
    generated_at: datetime
    ownership: list[Ownership]
    contract: LoadedContract | None
    violations: Violations
    systems: list[SystemFacts]
    alerts: list[AlertExample]
    runbooks: list[RunbookSteps]
    reconciliations: list[Reconciliation]
    operations: Operations | None
    statuses: list[BusinessStatus]
    readiness: FlowReadiness
    incidents: list[IncidentFacts] = field(default_factory=list)
    mapping_changes: list[RecordedChange] = field(default_factory=list)


def _ownership(model: Model, flow_id: str) -> list[Ownership]:
    flow = model.flows[flow_id]

    def row(mode: str, team_id: str) -> Ownership:
        team = model.teams[team_id]
        return Ownership(mode, team_id, team.name or team_id, team.slack_channel)

    return [row("(flow)", flow.owner), *(row(m, t) for m, t in sorted(flow.failure_owners.items()))]


def _window_text(model: Model, window: ReleaseWindow) -> str:
    note = f"; {window.note}" if window.note else ""
    if window.maintenance_window is not None:
        mw = model.maintenance_windows[window.maintenance_window]
        days = ", ".join(mw.weekdays)
        return f"{days} {mw.start:%H:%M}-{mw.end:%H:%M} {mw.timezone} (maintenance window {window.maintenance_window}){note}"
    days = ", ".join(window.weekdays or [])
    start, end = window.start, window.end
    assert start is not None and end is not None
    return f"{days} {start:%H:%M}-{end:%H:%M} {window.timezone}{note}"


def _systems(model: Model, flow_id: str) -> list[SystemFacts]:
    flow = model.flows[flow_id]
    ids = sorted({*model.flow_systems(flow_id), *flow.identifiers})
    return [
        SystemFacts(
            s,
            model.systems[s].name,
            model.systems[s].owner,
            flow.identifiers.get(s),
            model.systems[s].api_limits,
            [_window_text(model, w) for w in model.systems[s].release_windows],
        )
        for s in ids
    ]


def _runbooks(model: Model, flow_id: str) -> list[RunbookSteps]:
    by_book: dict[str, list[str]] = {}
    for rule_id in model.rules_of(flow_id):
        by_book.setdefault(model.rules[rule_id].runbook, []).append(rule_id)
    ops = model.flows[flow_id].operations
    for replay in (ops.replay or []) if ops is not None else []:
        by_book.setdefault(replay.runbook, [])
    return [
        RunbookSteps(book, model.runbooks[book].title, rules, recovery_steps(model.runbooks[book]))
        for book, rules in sorted(by_book.items())
        if book in model.runbooks
    ]


def _reconciliations(model: Model, engine: Engine, flow_id: str) -> list[Reconciliation]:
    out = []
    values: dict[str, list[SignalValue]] = {}
    with Session(engine) as session:
        for row in current_values(session):
            if row.flow == flow_id:
                values.setdefault(row.signal, []).append(row)
        for signal_id, signal in sorted(model.flows[flow_id].signals.items()):
            if not isinstance(signal.probe, ReconcileProbe) or signal.probe.measure == "records":
                continue
            failing = latest_evidence(session, flow_id, signal_id)
            rows = values.get(signal_id, [])
            observed = max((r.observed_at for r in rows), default=None)
            out.append(
                Reconciliation(
                    signal_id,
                    signal.probe.key,
                    [(_labels(r.labels), r.value) for r in rows if r.value is not None],
                    observed,
                    failing,
                )
            )
    return out


def _labels(text: str) -> dict[str, str]:
    return labels_of(text)


def _violations(model: Model, engine: Engine, flow_id: str) -> Violations:
    flow = model.flows[flow_id]
    signals = {sid for sid, s in flow.signals.items() if s.kind is SignalKind.CONTRACT_VIOLATIONS}
    rules = [r for r in model.rules_of(flow_id) if model.rules[r].signal in signals]
    with Session(engine) as session:
        counts = [
            (row.signal, labels_of(row.labels).get("field", ""), labels_of(row.labels).get("reason", ""), row.value)
            for row in current_values(session)
            if row.flow == flow_id and row.signal in signals and row.value
        ]
        states = [
            st
            for st in session.exec(select(AlertState).where(col(AlertState.rule).in_(rules))).all()
            if st.evidence and st.firing_since is not None
        ]
    counts.sort(key=lambda c: (c[0], -c[3], c[1], c[2]))
    if not states:
        return Violations(counts)
    last = max(states, key=lambda st: st.firing_since or datetime.min.replace(tzinfo=UTC))
    assert last.evidence is not None
    return Violations(counts, last.rule, last.firing_since, json.loads(last.evidence))


def _statuses(model: Model, flow_id: str) -> list[BusinessStatus]:
    flow = model.flows[flow_id]
    out = [BusinessStatus("success", flow.owner, " ".join(flow.description.split()))]
    for mode, team in sorted(flow.failure_owners.items()):
        impacts = sorted(
            {
                " ".join(model.rules[r].business_impact.split())
                for r in model.rules_of(flow_id)
                if model.rules[r].failure_mode == mode
            }
        )
        text = (
            " ".join(impacts)
            if impacts
            else "No alert rule routes to this failure mode yet: add one, or say here what the business sees."
        )
        out.append(BusinessStatus(mode, team, text))
    return out


def build_pack(model: Model, engine: Engine, links: Links, flow_id: str, now: datetime) -> EvidencePack:
    """The evidence pack of one flow as of `now`."""
    flow = model.flows[flow_id]
    readiness = next(r for r in check_readiness(model, engine) if r.flow == flow_id)
    history = load_history(engine, model, now - timedelta(weeks=INCIDENT_WEEKS), now)
    return EvidencePack(
        flow=flow_id,
        description=" ".join(flow.description.split()),
        criticality=flow.criticality,
        generated_at=now,
        ownership=_ownership(model, flow_id),
        contract=model.contracts.get(flow_id),
        violations=_violations(model, engine, flow_id),
        systems=_systems(model, flow_id),
        alerts=alert_examples(model, links, flow_id, now),
        runbooks=_runbooks(model, flow_id),
        reconciliations=_reconciliations(model, engine, flow_id),
        operations=flow.operations,
        statuses=_statuses(model, flow_id),
        readiness=readiness,
        incidents=sorted((i for i in history.incidents if i.flow == flow_id), key=lambda i: i.opened_at),
        mapping_changes=[r for r in recorded_changes(engine, history.start, now) if r.change.flow == flow_id],
    )
