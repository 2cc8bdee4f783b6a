"""Protobuf export requests to stage events through the native reader (`traces/_spans.c`).

The C reader walks the request's bytes once and returns one record per span, a flat tuple; this
module applies extract.py's rules to the records, so the results (events, their order, rejection
reasons) are the same as parsing with upb and calling `extract`. A body the reader cannot vouch
for (malformed, or encoded in a way it leaves to upb) takes that path, which raises today's
MalformedPayload. Without the compiled module, or with FLOWHEALTH_NATIVE=0, every body does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from . import convention as c
from .decode import PROTOBUF, parse
from .extract import Extracted, _violations, extract

# A record: service, name, ident (trace id + span id, hex), at, failed (status ERROR), why (what a
# rejected span without a reason is rejected for), then the convention keys' values (None when the
# span lacks the key), then a tuple of the mappings' own keys' values.
Record = tuple[Any, ...]
ReadSpans = Callable[[bytes, tuple[str, ...], int], list[Record] | None]


def _load() -> ReadSpans | None:
    try:
        from ._spans import read_spans
    except ImportError:  # installed without a compiler: the upb path
        return None
    return read_spans


read_spans = _load()
AVAILABLE = read_spans is not None
# Read once at import, as the receiver's other switches are read at start.
ENABLED = AVAILABLE and os.environ.get("FLOWHEALTH_NATIVE", "1").strip() != "0"

MAX_KEYS = 64  # the C reader's limit on span_keys
INLINE = len(c.CONVENTION_KEYS)
FIXED = 6
OUTCOME_AT = FIXED + c.CONVENTION_KEYS.index(c.OUTCOME)
REASON_AT = FIXED + c.CONVENTION_KEYS.index(c.REASON)
OUTCOMES, REJECTED, OK, MAX_ENTITY_ID, MAX_REASON = c.OUTCOMES, c.REJECTED, c.OK, c.MAX_ENTITY_ID, c.MAX_REASON
StageEvent = c.StageEvent
new = tuple.__new__
LONG_ID = f"with an entity id longer than {MAX_ENTITY_ID} characters"


def extract_protobuf(body: bytes, routing: c.Routing, native: bool | None = None) -> Extracted:
    """The stage events and rejections of a protobuf ExportTraceServiceRequest body (MalformedPayload).

    `native` None follows FLOWHEALTH_NATIVE (`ENABLED`, looked up at each call so a benchmark can flip it).
    """
    keys = routing.span_keys
    if (ENABLED if native is None else native) and read_spans is not None and len(keys) <= MAX_KEYS:
        records = read_spans(body, keys, INLINE)
        if records is not None:
            return from_records(records, routing)
    return extract(parse(PROTOBUF, body), routing)


def from_records(records: list[Record], routing: c.Routing) -> Extracted:
    """extract.py's loop over the reader's records; the convention's path written out, as there.

    Written out further than extract.py: no call per span, and events built with tuple.__new__
    (StageEvent's generated __new__ is a Python frame), each a measurable part of ~1.5 µs a span.
    """
    out = Extracted()
    plans = routing.plans
    rejected = out.rejected
    append = out.events.append
    for record in records:
        (_, _, ident, at, failed, why, flow_id, stage, entity_id, entity_type, outcome, reason, payload, _) = record
        if flow_id is None:
            _mapped_span(out, record, routing)
            continue
        plan = plans.get(flow_id)
        if plan is None:
            rejected[f"for flow '{flow_id[:64]}' that has no traces block"] += 1
            continue
        if stage is None:
            stage = ""
        if stage not in plan.stage_set:
            rejected[f"with unknown stage '{stage[:64]}' of flow '{flow_id}'"] += 1
            continue
        if not entity_id:
            rejected[f"of flow '{flow_id}' without {c.ENTITY_ID}"] += 1
            continue
        if len(entity_id) > MAX_ENTITY_ID:
            rejected[LONG_ID] += 1
            continue
        if not outcome:
            # Without an explicit outcome, the span status decides (OpenTelemetry: ERROR = failed).
            outcome = REJECTED if failed else OK
        elif outcome not in OUTCOMES:
            rejected[f"with unknown {c.OUTCOME} '{outcome[:32]}'"] += 1
            continue
        if reason is None:
            reason = ""
        if outcome == REJECTED and not reason:
            reason = why
        violations = () if plan.contract is None or payload is None else _violations(plan.contract, payload)
        entity_type = plan.entity_type if entity_type is None else entity_type
        append(
            new(
                StageEvent,
                (ident, plan.flow, stage, entity_id, entity_type, outcome, reason[:MAX_REASON], at, violations),
            )
        )
    return out


def _value(record: Record, position: int) -> str | None:
    value: str | None = record[FIXED + position] if position < INLINE else record[FIXED + INLINE][position - INLINE]
    return value


def _mapped_span(out: Extracted, record: Record, routing: c.Routing) -> None:
    """A span without the convention's attributes: a flow's span mapping, or a rejection."""
    service, name = record[0], record[1]
    mapped = routing.mappings.get((service, name))
    if mapped is None:
        out.rejected[f"without {c.FLOW} and no span mapping (e.g. service '{service}' span '{name}')"] += 1
        return
    positions = routing.key_positions
    for flow_id, mapping in mapped:
        entity_id = _value(record, positions[mapping.entity_id])
        if not entity_id:
            out.rejected[f"mapped to {flow_id} but without attribute {mapping.entity_id}"] += 1
            continue
        plan = routing.plans[flow_id]
        payload = _value(record, positions[mapping.payload or c.PAYLOAD])
        outcome, reason = record[OUTCOME_AT], record[REASON_AT]
        event = _event(
            out,
            plan,
            mapping.stage,
            entity_id,
            plan.entity_type,
            outcome or "",
            reason or "",
            payload,
            record,
        )
        if event is not None:
            out.events.append(event)


def _event(
    out: Extracted,
    plan: c.FlowPlan,
    stage: str,
    entity_id: str,
    entity_type: str,
    outcome: str,
    reason: str,
    payload: str | None,
    record: Record,
) -> c.StageEvent | None:
    if len(entity_id) > MAX_ENTITY_ID:
        out.rejected[LONG_ID] += 1
        return None
    if not outcome:
        # Without an explicit outcome, the span status decides (OpenTelemetry: ERROR = failed).
        outcome = REJECTED if record[4] else OK
    elif outcome not in OUTCOMES:
        out.rejected[f"with unknown {c.OUTCOME} '{outcome[:32]}'"] += 1
        return None
    if outcome == REJECTED and not reason:
        reason = record[5]
    violations: tuple[tuple[str, str], ...] = ()
    if plan.contract is not None and payload is not None:
        violations = _violations(plan.contract, payload)
    return StageEvent(
        record[2],
        plan.flow,
        stage,
        entity_id,
        entity_type,
        outcome,
        reason[:MAX_REASON],
        record[3],
        violations,
    )
