"""The simulated stack's order journeys as OTLP spans, the way its three systems would send them.

The shop and the middleware mark their stages with flowhealth's attribute convention; the ERP
connector cannot be changed, so its existing `SalesOrder.create` span is mapped in the flow's
YAML. Each system starts its own trace: journeys join on the order number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from ..traces import convention as c

SERVICES = {"placed": "shop", "exported": "order-middleware", "accepted": "erp-connector"}


@dataclass(frozen=True)
class StageEvent:
    """One order reaching one stage at a time (epoch seconds)."""

    order: str
    stage: str
    at: float
    rejected: str | None = None  # the reason, when the system refused the order at this stage
    payload: str | None = None  # the sales order the ERP connector received (contract erp-sales-order)


def _id(text: str, size: int) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:size]


def _attr(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span(event: StageEvent) -> Span:
    start = int(event.at * 1e9)
    span = Span(
        # A trace per system and order: nothing links them but the order number.
        trace_id=_id(f"{SERVICES[event.stage]}:{event.order}", 16),
        span_id=_id(f"{event.stage}:{event.order}", 8),
        start_time_unix_nano=start - 40_000_000,
        end_time_unix_nano=start,
        kind=Span.SPAN_KIND_INTERNAL,
    )
    if event.stage == "accepted" and not event.rejected:
        span.name = "SalesOrder.create"
        span.attributes.append(_attr("erp.sales_order.external_ref", event.order))
        if event.payload is not None:
            span.attributes.append(_attr("erp.sales_order.payload", event.payload))
    else:
        span.name = f"order {event.stage}"
        span.attributes.extend(
            [
                _attr(c.FLOW, "order-export"),
                _attr(c.STAGE, event.stage),
                _attr(c.ENTITY_TYPE, "order"),
                _attr(c.ENTITY_ID, event.order),
                _attr(c.OUTCOME, c.REJECTED if event.rejected else c.OK),
            ]
        )
        if event.rejected:
            span.attributes.append(_attr(c.REASON, event.rejected))
    return span


def export_request(events: Iterable[StageEvent]) -> ExportTraceServiceRequest:
    """One OTLP export request holding each service's spans."""
    by_service: dict[str, list[Span]] = {}
    for event in events:
        by_service.setdefault(SERVICES[event.stage], []).append(_span(event))
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_attr(c.SERVICE_NAME, service)]), scope_spans=[ScopeSpans(spans=spans)]
            )
            for service, spans in sorted(by_service.items())
        ]
    )
