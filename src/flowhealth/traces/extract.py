"""Spans to stage events: the convention's attributes, or a flow's span mappings.

This loop runs once per span on the receiver's request path. It reads the lean request of
`traces.wire`, whose attributes upb has already put in a map, and asks only for the keys the
convention or a mapping names; spans that belong to no flow are counted with a reason for the
exporter's `partial_success`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..model.contracts import LoadedContract
from ..model.traces import SpanMapping
from . import convention as c

STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


# Why a span was rejected, as the exporter's partial_success message counts it. Both readers (this
# module and records.py, behind the native reader) word their rejections through these.
def no_traces_block(flow_id: str) -> str:
    return f"for flow '{flow_id[:64]}' that has no traces block"


def unknown_stage(stage: str, flow_id: str) -> str:
    return f"with unknown stage '{stage[:64]}' of flow '{flow_id}'"


def without_entity_id(flow_id: str) -> str:
    return f"of flow '{flow_id}' without {c.ENTITY_ID}"


def unknown_outcome(outcome: str) -> str:
    return f"with unknown {c.OUTCOME} '{outcome[:32]}'"


def unmapped(service: str, name: str) -> str:
    return f"without {c.FLOW} and no span mapping (e.g. service '{service}' span '{name}')"


def mapped_without(flow_id: str, attribute: str) -> str:
    return f"mapped to {flow_id} but without attribute {attribute}"


LONG_ENTITY_ID = f"with an entity id longer than {c.MAX_ENTITY_ID} characters"


@dataclass
class Extracted:
    """Stage events of one export request, and why the other spans were rejected."""

    events: list[c.StageEvent] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    def message(self, shown: int = 3) -> str:
        """A short partial_success message: the most frequent reasons first."""
        if not self.rejected:
            return ""
        parts = [f"{count} {why}" for why, count in self.rejected.most_common(shown)]
        more = len(self.rejected) - shown
        return "spans not attributable to a flow: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _text(value: Any) -> str:
    # AnyValue: ids are usually strings, sometimes integers (an order number).
    text: str = value.string_value
    if text:
        return text
    kind = value.WhichOneof("value")
    if kind in ("int_value", "double_value", "bool_value"):
        return str(getattr(value, kind))
    return ""


def _get(attrs: Any, key: str) -> str:
    """An attribute as text, "" when missing (one map lookup: `in` then `[]` would be two)."""
    value = attrs.get(key)
    return "" if value is None else _text(value)


def extract(request: Any, routing: c.Routing) -> Extracted:
    """Every span of a lean request (`traces.wire`) as a stage event, or a counted rejection.

    The convention's path is written out in one loop, without helper calls: it runs once per
    span on the request path, and Python's call overhead was a third of its cost.
    """
    out = Extracted()
    plans, mappings = routing.plans, routing.mappings
    append = out.events.append
    for resource_spans in request.resource_spans:
        service = _get(resource_spans.resource.attributes, c.SERVICE_NAME)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                get = span.attributes.get
                value = get(FLOW)
                if value is None:
                    _mapped_span(out, span, service, plans, mappings)
                    continue
                flow_id = value.string_value or _text(value)
                plan = plans.get(flow_id)
                if plan is None:
                    out.rejected[no_traces_block(flow_id)] += 1
                    continue
                value = get(STAGE)
                stage = "" if value is None else value.string_value or _text(value)
                if stage not in plan.stage_set:
                    out.rejected[unknown_stage(stage, flow_id)] += 1
                    continue
                value = get(ENTITY_ID)
                entity_id = "" if value is None else value.string_value or _text(value)
                if not entity_id:
                    out.rejected[without_entity_id(flow_id)] += 1
                    continue
                value = get(ENTITY_TYPE)
                entity_type = plan.entity_type if value is None else value.string_value or _text(value)
                value = get(OUTCOME)
                outcome = "" if value is None else value.string_value or _text(value)
                event = _event(out, span, get, plan, stage, entity_id, entity_type, outcome, PAYLOAD)
                if event is not None:
                    append(event)
    return out


# Local names: a module global is one dictionary lookup, an attribute of `c` two.
FLOW, STAGE, ENTITY_ID, ENTITY_TYPE, OUTCOME, REASON, PAYLOAD = (
    c.FLOW,
    c.STAGE,
    c.ENTITY_ID,
    c.ENTITY_TYPE,
    c.OUTCOME,
    c.REASON,
    c.PAYLOAD,
)
OUTCOMES, REJECTED, OK, MAX_ENTITY_ID, MAX_REASON = c.OUTCOMES, c.REJECTED, c.OK, c.MAX_ENTITY_ID, c.MAX_REASON


def _mapped_span(
    out: Extracted,
    span: Any,
    service: str,
    plans: dict[str, c.FlowPlan],
    mappings: dict[tuple[str, str], list[tuple[str, SpanMapping]]],
) -> None:
    """A span without the convention's attributes: a flow's span mapping, or a rejection."""
    mapped = mappings.get((service, span.name))
    if mapped is None:
        out.rejected[unmapped(service, span.name)] += 1
        return
    attrs = span.attributes
    for flow_id, mapping in mapped:
        entity_id = _get(attrs, mapping.entity_id)
        if not entity_id:
            out.rejected[mapped_without(flow_id, mapping.entity_id)] += 1
            continue
        plan = plans[flow_id]
        outcome = _get(attrs, OUTCOME)
        event = _event(
            out, span, attrs.get, plan, mapping.stage, entity_id, plan.entity_type, outcome, mapping.payload or PAYLOAD
        )
        if event is not None:
            out.events.append(event)


def _event(
    out: Extracted,
    span: Any,
    get: Any,
    plan: c.FlowPlan,
    stage: str,
    entity_id: str,
    entity_type: str,
    outcome: str,
    payload_attribute: str,
) -> c.StageEvent | None:
    if len(entity_id) > MAX_ENTITY_ID:
        out.rejected[LONG_ENTITY_ID] += 1
        return None
    value = get(REASON)
    reason = "" if value is None else value.string_value or _text(value)
    if not outcome:
        # Without an explicit outcome, the span status decides (OpenTelemetry: ERROR = failed).
        outcome = REJECTED if span.status.code == STATUS_ERROR else OK
    elif outcome not in OUTCOMES:
        out.rejected[unknown_outcome(outcome)] += 1
        return None
    if outcome == REJECTED and not reason:
        reason = _error_reason(span)
    violations: tuple[tuple[str, str], ...] = ()
    if plan.contract is not None:
        payload = get(payload_attribute)
        if payload is not None:
            violations = contract_violations(plan.contract, _text(payload))
    return c.StageEvent(
        (span.trace_id + span.span_id).hex(),
        plan.flow,
        stage,
        entity_id,
        entity_type,
        outcome,
        reason[:MAX_REASON],
        (span.end_time_unix_nano or span.start_time_unix_nano) / 1e9,
        violations,
    )


def contract_violations(contract: LoadedContract, text: str) -> tuple[tuple[str, str], ...]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return (("$", "json"),)
    return tuple((v.field, v.reason) for v in contract.violations(payload))


def _error_reason(span: Any) -> str:
    # Semantic conventions: a recorded exception is an event named "exception" with exception.type.
    for event in span.events:
        if event.name == "exception":
            for kv in event.attributes:
                if kv.key == "exception.type":
                    return str(kv.value.string_value)
    return str(span.status.message) or "error"
