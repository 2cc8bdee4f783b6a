"""The attribute convention of business spans and the routing of spans to flows.

Spans carry `flowhealth.*` attributes (set by `flowhealth.instrument`), or are mapped in a flow's
`traces.spans` by `service.name` and span name. The attribute names are in `flowhealth.semconv`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from ..model.contracts import LoadedContract
from ..model.model import Model
from ..model.probes import TraceProbe
from ..model.traces import FlowTraces, SpanMapping

# The names live in a module free of dependencies, which flowhealth.instrument imports alone.
from ..semconv import (
    ENTITY_ID as ENTITY_ID,
)
from ..semconv import (
    ENTITY_TYPE as ENTITY_TYPE,
)
from ..semconv import (
    FLOW as FLOW,
)
from ..semconv import (
    MANUAL as MANUAL,
)
from ..semconv import (
    OK as OK,
)
from ..semconv import (
    OUTCOME as OUTCOME,
)
from ..semconv import (
    OUTCOMES as OUTCOMES,
)
from ..semconv import (
    PAYLOAD as PAYLOAD,
)
from ..semconv import (
    REASON as REASON,
)
from ..semconv import (
    REJECTED as REJECTED,
)
from ..semconv import (
    RETRIED as RETRIED,
)
from ..semconv import (
    SERVICE_NAME as SERVICE_NAME,
)
from ..semconv import (
    STAGE as STAGE,
)

MAX_ENTITY_ID = 200
MAX_REASON = 128
# The span attributes the convention reads, in the order the native reader returns their values.
CONVENTION_KEYS = (FLOW, STAGE, ENTITY_ID, ENTITY_TYPE, OUTCOME, REASON, PAYLOAD)


class StageEvent(NamedTuple):
    """One business span: an entity reached (or failed at) a stage of a flow at `at`.

    A named tuple, not a dataclass: one is built per span on the receiver's request path, and it
    goes to the inbox as a JSON row as it is.
    """

    key: str  # trace id + span id (hex): ingestion is idempotent on it
    flow: str
    stage: str
    entity_id: str
    entity_type: str | None
    outcome: str
    reason: str
    at: float  # epoch seconds the span ended: the stage is reached when its work is done
    violations: tuple[tuple[str, str], ...] = ()  # (field, reason) the span's payload breaks


@dataclass(frozen=True)
class FlowPlan:
    """What ingestion needs to know about one flow with a `traces` block."""

    flow: str
    traces: FlowTraces
    entity_type: str
    latency_pairs: frozenset[tuple[str, str]]
    contract: LoadedContract | None = None

    # Derived once per model (a plan lives as long as its routing), read once per span.
    @cached_property
    def stage_set(self) -> frozenset[str]:
        """The stages as a set: the extractor checks every span's stage against it."""
        return frozenset(self.traces.stages)

    @cached_property
    def pairs_by_stage(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """The latency pairs each stage starts or ends, so a fold looks at only those for a span."""
        by_stage: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for start, end in sorted(self.latency_pairs):
            by_stage[start].append((start, end))
            if end != start:
                by_stage[end].append((start, end))
        return {stage: tuple(pairs) for stage, pairs in by_stage.items()}


class MappedTarget(NamedTuple):
    """One flow a span mapping sends a span to, and where its attributes are among `Routing.span_keys`."""

    flow_id: str
    plan: FlowPlan
    mapping: SpanMapping
    entity_key: int
    payload_key: int


@dataclass(frozen=True)
class Routing:
    """Flows that accept spans, and the span mappings by (service.name, span name)."""

    plans: dict[str, FlowPlan] = field(default_factory=dict)
    mappings: dict[tuple[str, str], list[tuple[str, SpanMapping]]] = field(default_factory=dict)

    @cached_property
    def span_keys(self) -> tuple[str, ...]:
        """Every span attribute extraction reads: the convention's, then the mappings' own (sorted)."""
        own = {
            key for mapped in self.mappings.values() for _, m in mapped for key in (m.entity_id, m.payload or PAYLOAD)
        }
        return CONVENTION_KEYS + tuple(sorted(own - set(CONVENTION_KEYS)))

    @cached_property
    def native_plans(self) -> dict[str, tuple[frozenset[str], str, str, bool]]:
        """(stage set, flow, entity type, has a contract) of each flow, for the native reader (records.py).

        It builds a span's event itself unless a payload must be validated against a contract.
        """
        return {f: (p.stage_set, p.flow, p.entity_type, p.contract is not None) for f, p in self.plans.items()}

    @cached_property
    def mapping_targets(self) -> dict[tuple[str, str], tuple[MappedTarget, ...]]:
        """Where each (service, span name) goes, with the positions in `span_keys` of the attributes it reads."""
        positions = {key: i for i, key in enumerate(self.span_keys)}
        return {
            pair: tuple(
                MappedTarget(flow_id, self.plans[flow_id], m, positions[m.entity_id], positions[m.payload or PAYLOAD])
                for flow_id, m in mapped
            )
            for pair, mapped in self.mappings.items()
        }

    @cached_property
    def native_mappings(self) -> dict[tuple[str, str], tuple[str, str, int, int]]:
        """(flow, stage, entity id key, payload key) by (service, span name), for the native reader (records.py).

        It builds the events of mapped spans itself; only mappings of exactly one flow are here (a
        span feeding two flows is Python's).
        """
        return {
            pair: (t.flow_id, t.mapping.stage, t.entity_key, t.payload_key)
            for pair, (t, *more) in self.mapping_targets.items()
            if not more
        }

    @classmethod
    def of(cls, model: Model) -> Routing:
        plans: dict[str, FlowPlan] = {}
        mappings: dict[tuple[str, str], list[tuple[str, SpanMapping]]] = {}
        for flow_id, flow in sorted(model.flows.items()):
            if flow.traces is None:
                continue
            pairs = {
                flow.traces.path(signal.probe.from_, signal.probe.to)
                for signal in flow.signals.values()
                if isinstance(signal.probe, TraceProbe) and signal.probe.measure == "latency"
            }
            entity = flow.traces.entity or flow.object
            plans[flow_id] = FlowPlan(flow_id, flow.traces, entity, frozenset(pairs), model.contracts.get(flow_id))
            for mapping in flow.traces.spans:
                mappings.setdefault((mapping.service, mapping.name), []).append((flow_id, mapping))
        return cls(plans, mappings)
