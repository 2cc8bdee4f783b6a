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
from . import convention as c

STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


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
    if kind == "string_value":
        return str(value.string_value)
    if kind in ("int_value", "double_value", "bool_value"):
        return str(getattr(value, kind))
    return ""


def extract(request: Any, routing: c.Routing) -> Extracted:
    """Every span of a lean request (`traces.wire`) as a stage event, or a counted rejection."""
    out = Extracted()
    plans, mappings = routing.plans, routing.mappings
    for resource_spans in request.resource_spans:
        named = resource_spans.resource.attributes.get(c.SERVICE_NAME)
        service = "" if named is None else str(named.string_value)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attrs = span.attributes
                flow_value = attrs.get(c.FLOW)
                if flow_value is not None:
                    _convention_span(out, span, attrs, _text(flow_value), plans)
                    continue
                mapped = mappings.get((service, span.name))
                if mapped is None:
                    out.rejected[
                        f"without {c.FLOW} and no span mapping (e.g. service '{service}' span '{span.name}')"
                    ] += 1
                    continue
                for flow_id, mapping in mapped:
                    entity = attrs.get(mapping.entity_id)
                    entity_id = _text(entity) if entity is not None else ""
                    if not entity_id:
                        out.rejected[f"mapped to {flow_id} but without attribute {mapping.entity_id}"] += 1
                        continue
                    outcome = _text(attrs[c.OUTCOME]) if c.OUTCOME in attrs else ""
                    payload = mapping.payload or c.PAYLOAD
                    _emit(
                        out,
                        span,
                        attrs,
                        plans[flow_id],
                        mapping.stage,
                        entity_id,
                        plans[flow_id].entity_type,
                        outcome,
                        payload,
                    )
    return out


def _convention_span(out: Extracted, span: Any, attrs: Any, flow_id: str, plans: dict[str, c.FlowPlan]) -> None:
    plan = plans.get(flow_id)
    if plan is None:
        out.rejected[f"for flow '{flow_id[:64]}' that has no traces block"] += 1
        return
    stage = _text(attrs[c.STAGE]) if c.STAGE in attrs else ""
    if stage not in plan.traces.stages:
        out.rejected[f"with unknown stage '{stage[:64]}' of flow '{flow_id}'"] += 1
        return
    entity_id = _text(attrs[c.ENTITY_ID]) if c.ENTITY_ID in attrs else ""
    if not entity_id:
        out.rejected[f"of flow '{flow_id}' without {c.ENTITY_ID}"] += 1
        return
    entity_type = _text(attrs[c.ENTITY_TYPE]) if c.ENTITY_TYPE in attrs else plan.entity_type
    outcome = _text(attrs[c.OUTCOME]) if c.OUTCOME in attrs else ""
    _emit(out, span, attrs, plan, stage, entity_id, entity_type, outcome, c.PAYLOAD)


def _emit(
    out: Extracted,
    span: Any,
    attrs: Any,
    plan: c.FlowPlan,
    stage: str,
    entity_id: str,
    entity_type: str,
    outcome: str,
    payload_attribute: str,
) -> None:
    flow_id = plan.flow
    if len(entity_id) > c.MAX_ENTITY_ID:
        out.rejected[f"with an entity id longer than {c.MAX_ENTITY_ID} characters"] += 1
        return
    reason = _text(attrs[c.REASON]) if c.REASON in attrs else ""
    if not outcome:
        # Without an explicit outcome, the span status decides (OpenTelemetry: ERROR = failed).
        outcome = c.REJECTED if span.status.code == STATUS_ERROR else c.OK
    elif outcome not in c.OUTCOMES:
        out.rejected[f"with unknown {c.OUTCOME} '{outcome[:32]}'"] += 1
        return
    if outcome == c.REJECTED and not reason:
        reason = _error_reason(span)
    at = (span.end_time_unix_nano or span.start_time_unix_nano) / 1e9
    key = span.trace_id.hex() + span.span_id.hex()
    violations: tuple[tuple[str, str], ...] = ()
    if plan.contract is not None and payload_attribute in attrs:
        violations = _violations(plan.contract, _text(attrs[payload_attribute]))
    out.events.append(
        c.StageEvent(key, flow_id, stage, entity_id, entity_type, outcome, reason[: c.MAX_REASON], at, violations)
    )


def _violations(contract: LoadedContract, text: str) -> tuple[tuple[str, str], ...]:
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
