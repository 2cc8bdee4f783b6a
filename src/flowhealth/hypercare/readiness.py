"""The go-live readiness checklist of the operating model, computed per flow from the model and the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..model.model import Model
from ..model.probes import ContractProbe, ReconcileProbe, TraceProbe
from ..model.runbooks import REQUIRED_SECTIONS
from ..model.schema import Flow, SignalKind
from ..probes.runner import scheduled_signals
from ..store.samples import probe_states
from ..store.tables import ProbeState
from .readiness_baseline import TITLE, baseline_status

Status = Literal["pass", "fail", "n/a", "learning"]  # learning: a baseline rule lacks history, not a failure

# The documented failure modes that own retries, dead letters and replays by hand. Exact names, so
# a mode called `no_retry_needed` does not pass for one.
RETRY_MODES = ("retry", "dead_letter", "dlq", "replay", "redelivery", "manual_fix")
# Objects the seeds name as needing periodic reconciliation: orders, payments, inventory.
CRITICAL_OBJECT_WORDS = ("order", "payment", "settlement", "inventory", "stock")
GATED = ("critical", "high")
END_TO_END_TRACE_MEASURES = ("oldest", "in_flight")

CHECKS: dict[str, str] = {
    "system_of_record": "System of record agreed",
    "failure_owners": "Owner per failure mode",
    "contract": "Contract versioned and enforced",
    "retry_owner": "Retry / dead-letter handling owned",
    "reconciliation": "Reconciliation of critical objects",
    "end_to_end": "Monitoring covers the flow end to end",
    "release": "Release coordination feasible",
    "alert_runbooks": "Every alert has a complete runbook",
    "runbook_owners": "Every runbook's owner exists",
    "probes_succeeding": "Probes currently succeeding",
    "baselines_learned": TITLE,
}


@dataclass(frozen=True)
class Check:
    """One line of the checklist: pass, fail or not applicable, and why."""

    id: str
    title: str
    status: Status
    why: str


@dataclass(frozen=True)
class FlowReadiness:
    """The checklist of one flow."""

    flow: str
    criticality: str
    owner: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def ready(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "criticality": self.criticality,
            "owner": self.owner,
            "ready": self.ready,
            "checks": [asdict(c) for c in self.checks],
        }


def _check(check_id: str, status: Status, why: str) -> Check:
    return Check(check_id, CHECKS[check_id], status, why)


def system_of_record(model: Model, flow: Flow) -> Check:
    """The source of truth is a known system with an owner team, and the flow has an owner team."""
    source = model.systems.get(flow.source_of_truth)
    if source is None:
        return _check("system_of_record", "fail", f"source of truth '{flow.source_of_truth}' is not a known system")
    if source.owner not in model.teams:
        return _check(
            "system_of_record", "fail", f"system '{flow.source_of_truth}' is owned by unknown team '{source.owner}'"
        )
    if flow.owner not in model.teams:
        return _check("system_of_record", "fail", f"flow owner '{flow.owner}' is not a known team")
    return _check("system_of_record", "pass", f"{flow.source_of_truth}, owned by {source.owner}")


def failure_owners(model: Model, flow: Flow) -> Check:
    """Critical and high flows name an owner per failure mode, and every owner is a team."""
    unknown = sorted(f"{mode} → {team}" for mode, team in flow.failure_owners.items() if team not in model.teams)
    if unknown:
        return _check("failure_owners", "fail", "unknown owner team: " + ", ".join(unknown))
    if not flow.failure_owners:
        if flow.criticality in GATED:
            return _check("failure_owners", "fail", f"a {flow.criticality} flow declares no failure_owners")
        return _check("failure_owners", "n/a", f"none declared; optional for {flow.criticality} flows")
    modes = ", ".join(f"{mode} → {team}" for mode, team in sorted(flow.failure_owners.items()))
    return _check("failure_owners", "pass", modes)


def retry_owner(model: Model, flow: Flow) -> Check:
    """A documented failure mode for retries, dead letters or manual replay has an owner team."""
    modes = {m: t for m, t in flow.failure_owners.items() if m in RETRY_MODES}
    owned = {m: t for m, t in modes.items() if t in model.teams}
    if owned:
        return _check("retry_owner", "pass", ", ".join(f"{m} → {t}" for m, t in sorted(owned.items())))
    if modes:
        return _check("retry_owner", "fail", "owner of " + ", ".join(sorted(modes)) + " is not a known team")
    return _check(
        "retry_owner",
        "fail",
        f"add a failure mode named one of {', '.join(RETRY_MODES)} with its team "
        "(e.g. failure_owners: {dead_letter: TEAM})",
    )


def is_critical_object(flow: Flow) -> bool:
    return any(word in flow.object.lower() for word in CRITICAL_OBJECT_WORDS)


def reconciliation(model: Model, flow: Flow) -> Check:
    """Orders, payments and inventory are reconciled by key: a reconcile probe, a mismatches signal or a journey."""
    if not is_critical_object(flow):
        return _check("reconciliation", "n/a", f"'{flow.object}' is not an order, payment or inventory object")
    found = sorted(sid for sid, s in flow.signals.items() if _reconciles(s.probe, s.kind))
    if found:
        return _check("reconciliation", "pass", ", ".join(found))
    return _check(
        "reconciliation",
        "fail",
        f"add a reconcile probe or a mismatches signal comparing '{flow.object}' records between "
        f"{flow.source_of_truth} and {', '.join(flow.targets)} (a trace journey's age is not a reconciliation)",
    )


def _reconciles(probe: object, kind: SignalKind) -> bool:
    # Only a comparison of both sides counts: a journey's age says something is late, not that
    # source and target agree.
    if isinstance(probe, TraceProbe):
        return False
    return isinstance(probe, ReconcileProbe) or kind in (SignalKind.MISMATCHES, SignalKind.MISMATCH_AMOUNT)


def _end_to_end_signals(flow: Flow) -> list[str]:
    out = []
    for sid, s in sorted(flow.signals.items()):
        probe = s.probe
        if isinstance(probe, TraceProbe) and flow.traces is not None:
            path = flow.traces.path(probe.from_, probe.to)
            spans = probe.measure == "latency" and path == flow.traces.path(None, None)
            if spans or probe.measure in END_TO_END_TRACE_MEASURES:
                out.append(sid)
        elif isinstance(probe, ReconcileProbe) or (s.kind.is_time and not isinstance(probe, TraceProbe)):
            # A delay/staleness probe reads the far end; a reconcile probe compares source with target.
            out.append(sid)
    return out


def end_to_end(model: Model, flow: Flow) -> Check:
    """Something measures the object arriving at the far end, not only a hop or an error count."""
    found = _end_to_end_signals(flow)
    if found:
        return _check("end_to_end", "pass", ", ".join(found))
    kinds = ", ".join(sorted({s.kind.value for s in flow.signals.values()}))
    return _check(
        "end_to_end",
        "fail",
        f"only {kinds} signals: add a delay/staleness probe, a reconciliation or a trace journey to the last stage",
    )


def contract(model: Model, flow: Flow) -> Check:
    """A versioned contract with a schema, and a probe or span mapping counting its violations."""
    spec = flow.contract
    if spec is None:
        if flow.criticality == "critical":
            return _check(
                "contract",
                "fail",
                "add contract: {name, version, schema: FILE, owner: TEAM} and a contract_violations signal",
            )
        return _check("contract", "n/a", f"none declared; optional for {flow.criticality} flows")
    if spec.schema_file is None:
        return _check("contract", "fail", f"{spec.name} v{spec.version} has only an example: add its JSON Schema")
    counters = sorted(sid for sid, s in flow.signals.items() if counts_violations(s.probe))
    mapped = [m.name for m in flow.traces.spans if m.payload] if flow.traces is not None else []
    if not counters:
        hint = " (spans carry payloads: add a trace signal with measure contract_violations)" if mapped else ""
        return _check(
            "contract",
            "fail",
            f"{spec.name} v{spec.version} is not enforced: add a contract_violations signal with a contract "
            f"probe or a trace measure contract_violations{hint}",
        )
    return _check(
        "contract", "pass", f"{spec.name} v{spec.version}, owned by {spec.owner}; counted by {', '.join(counters)}"
    )


def counts_violations(probe: object) -> bool:
    return isinstance(probe, ContractProbe) or (
        isinstance(probe, TraceProbe) and probe.measure == "contract_violations"
    )


def release(model: Model, flow: Flow) -> Check:
    """Pause, drain and replay facts declared, and a release window for every system the flow touches."""
    ops = flow.operations
    missing = []
    if ops is None or ops.pause is None:
        missing.append("operations.pause (how to pause, or why it cannot be)")
    if ops is None or ops.queues is None:
        missing.append("operations.queues (drainable queues, [] for none)")
    if ops is None or ops.replay is None:
        missing.append("operations.replay (replayable events with their runbook step, [] for none)")
    systems = sorted({flow.source_of_truth, *flow.targets})
    unknown = [s for s in systems if s in model.systems and not model.systems[s].release_windows]
    if unknown:
        missing.append("release_windows of system(s) " + ", ".join(unknown))
    if not missing:
        pause = "pausable" if ops is not None and ops.pause is not None and ops.pause.possible else "not pausable"
        queues = len(ops.queues or []) if ops is not None else 0
        replays = len(ops.replay or []) if ops is not None else 0
        return _check("release", "pass", f"{pause}; {queues} drainable queue(s); {replays} replayable event(s)")
    if flow.criticality != "critical" and ops is None:
        return _check("release", "n/a", f"no operations facts; optional for {flow.criticality} flows")
    return _check("release", "fail", "add " + "; ".join(missing))


def _rules_of(model: Model, flow_id: str) -> dict[str, str]:
    return {rule_id: model.rules[rule_id].runbook for rule_id in model.rules_of(flow_id)}


def alert_runbooks(model: Model, flow_id: str) -> Check:
    """The flow has alert rules, and each links a runbook with every required section filled in."""
    rules = _rules_of(model, flow_id)
    if not rules:
        return _check("alert_runbooks", "fail", "no alert rule for this flow")
    problems = []
    for rule_id, runbook_id in rules.items():
        book = model.runbooks.get(runbook_id)
        if book is None:
            problems.append(f"{rule_id}: runbook '{runbook_id}' does not exist")
            continue
        missing = [s for s in REQUIRED_SECTIONS if not book.sections.get(s)]
        if missing:
            problems.append(f"{rule_id}: runbook '{runbook_id}' lacks {', '.join(missing)}")
    if problems:
        return _check("alert_runbooks", "fail", "; ".join(problems))
    return _check("alert_runbooks", "pass", f"{len(rules)} rule(s): {', '.join(sorted(set(rules.values())))}")


def runbook_owners(model: Model, flow_id: str) -> Check:
    """Each runbook the flow's alerts link names an existing team in its Owner section."""
    books = sorted({rb for rb in _rules_of(model, flow_id).values() if rb in model.runbooks})
    if not books:
        return _check("runbook_owners", "fail", "no runbook to check")
    problems = []
    for book_id in books:
        body = model.runbooks[book_id].sections.get("owner", "")
        words = set(body.replace("`", " ").replace(",", " ").split())
        if not words & set(model.teams):
            problems.append(f"'{book_id}' names no known team as owner")
    if problems:
        return _check("runbook_owners", "fail", "; ".join(problems))
    return _check("runbook_owners", "pass", f"{len(books)} runbook(s)")


def probes_succeeding(flow_id: str, expected: list[str], states: dict[tuple[str, str], ProbeState] | None) -> Check:
    """From the store: every scheduled probe of the flow ran, and its last run succeeded."""
    if states is None:
        return _check("probes_succeeding", "n/a", "no state database given")
    if not expected:
        return _check("probes_succeeding", "n/a", "no scheduled probes (pushed or trace signals)")
    ran = [s for s in expected if (flow_id, s) in states]
    if not ran:
        return _check("probes_succeeding", "n/a", "no probe has run against this database yet")
    failing = [
        f"{s}: {states[(flow_id, s)].last_outcome}" for s in ran if states[(flow_id, s)].last_outcome != "success"
    ]
    never = [f"{s}: never ran" for s in expected if s not in ran]
    if failing or never:
        return _check("probes_succeeding", "fail", ", ".join(failing + never))
    return _check("probes_succeeding", "pass", f"{len(ran)} probe(s) succeeding")


def _probe_states(engine: Engine) -> dict[tuple[str, str], ProbeState]:
    with Session(engine) as session:
        return {(p.flow, p.signal): p for p in probe_states(session)}


def check_readiness(model: Model, engine: Engine | None = None, now: datetime | None = None) -> list[FlowReadiness]:
    """The checklist for every flow; store checks only when a state database is given."""
    now = now or datetime.now(UTC)
    states = _probe_states(engine) if engine is not None else None
    scheduled = scheduled_signals(model)
    out = []
    for flow_id, flow in sorted(model.flows.items()):
        expected = sorted(s for (f, s) in scheduled if f == flow_id)
        checks = [
            system_of_record(model, flow),
            failure_owners(model, flow),
            contract(model, flow),
            retry_owner(model, flow),
            reconciliation(model, flow),
            end_to_end(model, flow),
            release(model, flow),
            alert_runbooks(model, flow_id),
            runbook_owners(model, flow_id),
            probes_succeeding(flow_id, expected, states),
        ]
        status, why = baseline_status(model, flow_id, engine, now)
        if any(rule.flow == flow_id for rule in model.baseline_rules().values()):
            checks.append(_check("baselines_learned", status, why))
        out.append(FlowReadiness(flow_id, flow.criticality, flow.owner, checks))
    return out


def blocking(results: list[FlowReadiness]) -> list[FlowReadiness]:
    """Critical flows that fail a check: these hold a go-live."""
    return [r for r in results if r.criticality == "critical" and not r.ready]
