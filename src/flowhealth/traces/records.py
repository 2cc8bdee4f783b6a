"""Protobuf export requests to stage events through the native reader (`traces/_spans.c`).

The C reader walks the request's bytes once and returns the spans' fields as columns; this module
applies extract.py's rules to them, so the results (events, their order, rejection reasons) are
the same as parsing with upb and calling `extract`. A body the reader cannot vouch for (malformed,
or encoded in a way it leaves to upb) takes that path, which raises today's MalformedPayload.
Without the compiled module, or with FLOWHEALTH_NATIVE=0, every body does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import convention as c
from . import extract as x
from . import native
from .decode import PROTOBUF, parse
from .extract import Extracted, contract_violations, extract

# Columns, one item per span each: service, name, ident (trace id + span id, hex), at, failed
# (status ERROR), why (what a rejected span without a reason is rejected for), then one column per
# key of `Routing.span_keys` (None where the span lacks the key), the convention's keys first.
# A last column holds the span's StageEvent where the reader could build it (a convention span that
# nothing rejects, without a payload for a contract), else None: `slow` counts those, decided here.
# Only the last column has an item per span when `slow` is 0: the reader fills the others from the
# first span it leaves to Python on (None for every span it built), as only those spans read them.
Columns = tuple[list[Any], ...]
ReadSpans = Callable[
    [bytes, tuple[str, ...], dict[str, Any], type, dict[tuple[str, str], Any]], tuple[int, Columns] | None
]


def _load() -> ReadSpans | None:
    try:
        from ._spans import read_spans
    except ImportError:  # installed without a compiler: the upb path
        return None
    return read_spans


read_spans = _load()
AVAILABLE = read_spans is not None
ENABLED = AVAILABLE and native.WANTED

MAX_KEYS = 64  # the C reader's limit on span_keys
FIXED = 6
# The convention's keys come first in `Routing.span_keys`, so their columns are the same for every routing.
OUTCOME_COLUMN = FIXED + c.CONVENTION_KEYS.index(c.OUTCOME)
REASON_COLUMN = FIXED + c.CONVENTION_KEYS.index(c.REASON)
OUTCOMES, REJECTED, OK, MAX_ENTITY_ID, MAX_REASON = c.OUTCOMES, c.REJECTED, c.OK, c.MAX_ENTITY_ID, c.MAX_REASON
StageEvent = c.StageEvent
new = tuple.__new__


def extract_protobuf(body: bytes, routing: c.Routing, native: bool | None = None) -> Extracted:
    """The stage events and rejections of a protobuf ExportTraceServiceRequest body (MalformedPayload).

    `native` None follows FLOWHEALTH_NATIVE (`ENABLED`, looked up at each call so a benchmark can flip it).
    """
    keys = routing.span_keys
    if (ENABLED if native is None else native) and read_spans is not None and len(keys) <= MAX_KEYS:
        found = read_spans(body, keys, routing.native_plans, StageEvent, routing.native_mappings)
        if found is not None:
            return from_columns(found[0], found[1], routing)
    return extract(parse(PROTOBUF, body), routing)


def from_columns(slow: int, columns: Columns, routing: c.Routing) -> Extracted:
    """extract.py's loop over the spans the reader left to Python; the convention's path written out, as there.

    Written out further than extract.py: no call per span, and events built with tuple.__new__
    (StageEvent's generated __new__ is a Python frame). zip over the columns reuses its tuple, so a
    span costs no container object but its event.
    """
    if not slow:  # the reader built every event
        return Extracted(columns[-1])
    out = Extracted()
    plans = routing.plans
    rejected = out.rejected
    append = out.events.append
    conventions = columns[FIXED : FIXED + len(c.CONVENTION_KEYS)]
    fields = zip(range(len(columns[0])), columns[-1], *columns[2:FIXED], *conventions, strict=True)
    for i, built, ident, at, failed, why, flow_id, stage, entity_id, entity_type, outcome, reason, payload in fields:
        if built is not None:
            append(built)
            continue
        if flow_id is None:
            _mapped_span(out, columns, i, routing)
            continue
        plan = plans.get(flow_id)
        if plan is None:
            rejected[x.no_traces_block(flow_id)] += 1
            continue
        if stage is None:
            stage = ""
        if stage not in plan.stage_set:
            rejected[x.unknown_stage(stage, flow_id)] += 1
            continue
        if not entity_id:
            rejected[x.without_entity_id(flow_id)] += 1
            continue
        if len(entity_id) > MAX_ENTITY_ID:
            rejected[x.LONG_ENTITY_ID] += 1
            continue
        if not outcome:
            # Without an explicit outcome, the span status decides (OpenTelemetry: ERROR = failed).
            outcome = REJECTED if failed else OK
        elif outcome not in OUTCOMES:
            rejected[x.unknown_outcome(outcome)] += 1
            continue
        if reason is None:
            reason = ""
        if outcome == REJECTED and not reason:
            reason = why
        violations = () if plan.contract is None or payload is None else contract_violations(plan.contract, payload)
        entity_type = plan.entity_type if entity_type is None else entity_type
        append(
            new(
                StageEvent,
                (ident, plan.flow, stage, entity_id, entity_type, outcome, reason[:MAX_REASON], at, violations),
            )
        )
    return out


def _mapped_span(out: Extracted, columns: Columns, i: int, routing: c.Routing) -> None:
    """A span without the convention's attributes: a flow's span mapping, or a rejection.

    The native reader builds the events of spans mapped to one flow; what comes here is what
    needs Python's judgement (two flows, a payload for a contract, a rejection) or the upb path's.
    """
    service, name = columns[0][i], columns[1][i]
    targets = routing.mapping_targets.get((service, name))
    if targets is None:
        out.rejected[x.unmapped(service, name)] += 1
        return
    outcome: str = columns[OUTCOME_COLUMN][i] or ""
    reason: str = columns[REASON_COLUMN][i] or ""
    for flow_id, plan, mapping, entity_key, payload_key in targets:
        entity_id: str | None = columns[FIXED + entity_key][i]
        if not entity_id:
            out.rejected[x.mapped_without(flow_id, mapping.entity_id)] += 1
            continue
        if len(entity_id) > MAX_ENTITY_ID:
            out.rejected[x.LONG_ENTITY_ID] += 1
            continue
        kind = outcome
        if not kind:
            kind = REJECTED if columns[4][i] else OK
        elif kind not in OUTCOMES:
            out.rejected[x.unknown_outcome(kind)] += 1
            continue
        why = columns[5][i] if kind == REJECTED and not reason else reason
        payload: str | None = columns[FIXED + payload_key][i]
        violations = () if plan.contract is None or payload is None else contract_violations(plan.contract, payload)
        out.events.append(
            new(
                StageEvent,
                (
                    columns[2][i],
                    plan.flow,
                    mapping.stage,
                    entity_id,
                    plan.entity_type,
                    kind,
                    why[:MAX_REASON],
                    columns[3][i],
                    violations,
                ),
            )
        )
