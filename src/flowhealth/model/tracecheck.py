"""Cross-checks of trace signals against their flow's `traces` block."""

from __future__ import annotations

from .probes import TraceProbe
from .schema import Flow

# Which signal kinds each measure may feed, so the unit and metric name tell the truth.
MEASURE_KINDS: dict[str, frozenset[str]] = {
    "latency": frozenset({"delay"}),
    "oldest": frozenset({"delay"}),
    "in_flight": frozenset({"records", "depth"}),
    "rejections": frozenset({"rejections"}),
    "duplicates": frozenset({"duplicates"}),
    "retries": frozenset({"retries"}),
    "interventions": frozenset({"interventions"}),
    "contract_violations": frozenset({"contract_violations"}),
}


def check_trace_signal(flow: Flow, kind: str, probe: TraceProbe) -> list[tuple[tuple[str, ...], str]]:
    """Problems as (field path under the probe, message)."""
    issues: list[tuple[tuple[str, ...], str]] = []
    allowed = MEASURE_KINDS[probe.measure]
    if kind not in allowed:
        issues.append((("measure",), f"a {probe.measure} trace signal must be of kind {' or '.join(sorted(allowed))}"))
    if flow.traces is None:
        issues.append(((), "a trace signal needs a `traces` block on its flow (stages of the journey)"))
        return issues
    for field, stage in (("from", probe.from_), ("to", probe.to)):
        if stage is not None and stage not in flow.traces.stages:
            known = ", ".join(flow.traces.stages)
            issues.append(((field,), f"unknown stage '{stage}' (stages: {known})"))
    if probe.measure == "latency":
        stages = flow.traces.stages
        start, end = flow.traces.path(probe.from_, probe.to)
        if start in stages and end in stages and stages.index(start) >= stages.index(end):
            issues.append((("to",), f"stage '{end}' must come after '{start}'"))
    return issues
