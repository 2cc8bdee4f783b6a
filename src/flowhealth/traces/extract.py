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
    if kind in ("int_value", "double_value", "bool_value"):
        return str(getattr(value, kind))
    return ""


def _get(attrs: Any, key: str) -> str:
    """An attribute as text, "" when missing (one map lookup: `in` then `[]` would be two)."""
    value = attrs.get(key)
    return "" if value is None else _text(value)


def extract(request: Any, routing: c.Routing) -> Extracted:
    """Every span of a lean request (`traces.wire`) as a stage event, or a counted rejection."""
    out = Extracted()
    plans, mappings = routing.plans, routing.mappings
    for resource_spans in request.resource_spans:
        service = _get(resource_spans.resource.attributes, c.SERVICE_NAME)
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
                    entity_id = _get(attrs, mapping.entity_id)
                    if not entity_id:
                        out.rejected[f"mapped to {flow_id} but without attribute {mapping.entity_id}"] += 1
                        continue
                    plan = plans[flow_id]
                    payload = mapping.payload or c.PAYLOAD
                    outcome = _get(attrs, c.OUTCOME)
                    _emit(out, span, attrs, plan, mapping.stage, entity_id, plan.entity_type, outcome, payload)
    return out


def _convention_span(out: Extracted, span: Any, attrs: Any, flow_id: str, plans: dict[str, c.FlowPlan]) -> None:
    plan = plans.get(flow_id)
    if plan is None:
        out.rejected[f"for flow '{flow_id[:64]}' that has no traces block"] += 1
        return
    stage = _get(attrs, c.STAGE)
    if stage not in plan.traces.stages:
        out.rejected[f"with unknown stage '{stage[:64]}' of flow '{flow_id}'"] += 1
        return
    entity_id = _get(attrs, c.ENTITY_ID)
    if not entity_id:
        out.rejected[f"of flow '{flow_id}' without {c.ENTITY_ID}"] += 1
        return
    typed = attrs.get(c.ENTITY_TYPE)
    entity_type = plan.entity_type if typed is None else _text(typed)
    _emit(out, span, attrs, plan, stage, entity_id, entity_type, _get(attrs, c.OUTCOME), c.PAYLOAD)


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
    if len(entity_id) > c.MAX_ENTITY_ID:
        out.rejected[f"with an entity id longer than {c.MAX_ENTITY_ID} characters"] += 1
        return
    reason = _get(attrs, c.REASON)
    if not outcome:
        # Without an explicit outcome, the span status decides (OpenTelemetry: ERROR = failed).
        outcome = c.REJECTED if span.status.code == STATUS_ERROR else c.OK
    elif outcome not in c.OUTCOMES:
        out.rejected[f"with unknown {c.OUTCOME} '{outcome[:32]}'"] += 1
        return
    if outcome == c.REJECTED and not reason:
        reason = _error_reason(span)
    violations: tuple[tuple[str, str], ...] = ()
    if plan.contract is not None:
        payload = attrs.get(payload_attribute)
        if payload is not None:
            violations = _violations(plan.contract, _text(payload))
    out.events.append(
        c.StageEvent(
            span.trace_id.hex() + span.span_id.hex(),
            plan.flow,
            stage,
            entity_id,
            entity_type,
            outcome,
            reason[: c.MAX_REASON],
            (span.end_time_unix_nano or span.start_time_unix_nano) / 1e9,
            violations,
        )
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
