"""Cross-checks of the operating-model facts: identifiers agree with the places that use them,
contracts have an owner and are what their probes validate against, operations facts name real
systems and runbook steps, release windows reuse real maintenance windows.
"""

from __future__ import annotations

import re

from .checker import Checker
from .model import Model
from .probes import ContractProbe, ReconcileProbe, TraceProbe
from .runbooks import recovery_steps
from .schema import Flow, SignalKind


def identifier_fields(flow: Flow) -> dict[str, str]:
    """System -> the field joining the flow's records there."""
    return {system: ident.field for system, ident in sorted(flow.identifiers.items())}


def _last_segment(attribute: str) -> str:
    return attribute.rsplit(".", 1)[-1]


def check_facts(c: Checker, model: Model) -> None:
    """Report every fact that names something unknown or disagrees with the flow's identifiers."""
    for flow_id, flow in model.flows.items():
        at = ("flows", flow_id)
        for system in flow.identifiers:
            c.must_exist("system", system, model.systems, (*at, ("identifiers", system)))
        if flow.contract is not None:
            c.must_exist("team", flow.contract.owner, model.teams, (*at, ("contract", "owner")))
        _check_identifier_use(c, model, flow_id, flow)
        _check_contract_use(c, flow_id, flow)
        _check_operations(c, model, flow_id, flow)
    for system_id, participant in model.systems.items():
        for i, window in enumerate(participant.release_windows):
            where = ("systems", system_id, ("release_windows", i))
            if window.maintenance_window is None:
                if window.start == window.end:
                    c.report(where[0], where[1], (*where[2], "end"), "end equals start: the window would be empty")
                c.timezone(where[0], where[1], (*where[2], "timezone"), window.timezone or "")
                continue
            held = window.maintenance_window
            if not c.must_exist("maintenance window", held, model.maintenance_windows, where):
                continue
            if system_id not in model.maintenance_windows[held].systems:
                c.report(
                    *where,
                    f"maintenance window '{held}' does not hold system '{system_id}': "
                    "add it there, or declare this release window with its own times",
                )


def _check_identifier_use(c: Checker, model: Model, flow_id: str, flow: Flow) -> None:
    fields = identifier_fields(flow)
    if not fields:
        return
    declared = ", ".join(f"{s}: {f}" for s, f in fields.items())
    at = ("flows", flow_id)
    if flow.traces is not None:
        for i, mapping in enumerate(flow.traces.spans):
            where = (*at, ("traces", "spans", i))
            if mapping.system is not None:
                if mapping.system not in fields:
                    c.report(
                        *where[:2],
                        (*where[2], "system"),
                        f"no identifier declared for system '{mapping.system}' (declared: {declared})",
                    )
                elif _last_segment(mapping.entity_id) != fields[mapping.system]:
                    c.report(
                        *where[:2],
                        (*where[2], "entity_id"),
                        f"attribute '{mapping.entity_id}' does not carry {mapping.system}'s identifier "
                        f"'{fields[mapping.system]}'",
                    )
            elif _last_segment(mapping.entity_id) not in fields.values():
                c.report(
                    *where[:2],
                    (*where[2], "entity_id"),
                    f"attribute '{mapping.entity_id}' is none of the flow's identifiers ({declared})",
                )
    for signal_id, signal in flow.signals.items():
        probe = signal.probe
        key = probe.key if isinstance(probe, ReconcileProbe | ContractProbe) else None
        if key is not None and key not in fields.values():
            c.report(
                *at,
                ("signals", signal_id, "probe", "key"),
                f"key '{key}' is none of the flow's identifiers ({declared})",
            )
    for rule_id in model.rules_of(flow_id):
        rule = model.rules[rule_id]
        if rule.evidence is None:
            continue
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rule.evidence.query))
        if not words & set(fields.values()):
            c.report(
                "rules",
                rule_id,
                ("evidence", "query"),
                f"the evidence shows none of flow '{flow_id}''s identifiers ({declared}): "
                "select one so the on-call can find the records",
            )


def _check_contract_use(c: Checker, flow_id: str, flow: Flow) -> None:
    at = ("flows", flow_id)
    schema = flow.contract is not None and flow.contract.schema_file is not None
    for signal_id, signal in flow.signals.items():
        probe = signal.probe
        counts = isinstance(probe, ContractProbe) or (
            isinstance(probe, TraceProbe) and probe.measure == "contract_violations"
        )
        where = ("signals", signal_id)
        if counts and not schema:
            c.report(
                *at, (*where, "probe"), "counting contract violations needs a contract with a 'schema' on the flow"
            )
        if isinstance(probe, ContractProbe) and signal.kind is not SignalKind.CONTRACT_VIOLATIONS:
            c.report(*at, (*where, "kind"), "a contract probe feeds a signal of kind contract_violations")
        if signal.kind is SignalKind.CONTRACT_VIOLATIONS and not counts:
            c.report(
                *at,
                (*where, "probe"),
                "a contract_violations signal needs a contract probe or a trace measure contract_violations",
            )
    if flow.traces is not None:
        for i, mapping in enumerate(flow.traces.spans):
            if mapping.payload is not None and not schema:
                c.report(
                    *at,
                    ("traces", "spans", i, "payload"),
                    "a span payload is validated against the flow's contract 'schema', which is missing",
                )


def _check_operations(c: Checker, model: Model, flow_id: str, flow: Flow) -> None:
    ops = flow.operations
    if ops is None:
        return
    at = ("flows", flow_id)
    for i, queue in enumerate(ops.queues or []):
        c.must_exist("system", queue.system, model.systems, (*at, ("operations", "queues", i, "system")))
    for i, replay in enumerate(ops.replay or []):
        where = ("operations", "replay", i)
        c.must_exist("system", replay.system, model.systems, (*at, (*where, "system")))
        if not c.must_exist("runbook", replay.runbook, model.runbooks, (*at, (*where, "runbook"))):
            continue
        steps = recovery_steps(model.runbooks[replay.runbook])
        if replay.step > len(steps):
            c.report(
                *at,
                (*where, "step"),
                f"runbook '{replay.runbook}' has {len(steps)} numbered recovery step(s), not {replay.step}",
            )
