"""A real receiver on a free local port, and OTLP payloads built by hand."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowhealth.api.app import create_app
from flowhealth.runtime import Runtime
from tests.support.models import ORDERS_FLOW

TRACES_FLOW = (
    """
"""
    + ORDERS_FLOW
    + """      latency:
        kind: delay
        description: Placed to accepted.
        probe: {kind: trace, measure: latency, statistic: latest, window: 1h, interval: 30s}
      latency_p95:
        kind: delay
        description: Placed to accepted, 95th percentile.
        probe: {kind: trace, measure: latency, statistic: p95}
      export_latency:
        kind: delay
        description: Placed to exported.
        probe: {kind: trace, measure: latency, from: placed, to: exported, statistic: max}
      in_flight:
        kind: records
        description: Orders on their way.
        probe: {kind: trace, measure: in_flight}
      oldest:
        kind: delay
        description: Oldest order on its way.
        probe: {kind: trace, measure: oldest}
      rejections:
        kind: rejections
        description: Rejected payloads.
        probe: {kind: trace, measure: rejections, window: 24h}
      duplicates:
        kind: duplicates
        description: Orders processed twice at a stage.
        probe: {kind: trace, measure: duplicates}
      retries:
        kind: retries
        description: Retried stages.
        probe: {kind: trace, measure: retries}
      interventions:
        kind: interventions
        description: Stages done by hand.
        probe: {kind: trace, measure: interventions}
    traces:
      stages: [placed, exported, accepted]
      horizon: 1d
      keep_completed: 10m
      spans:
        - {service: erp-connector, name: SalesOrder.create, stage: accepted, entity_id: erp.ref}
"""
)

STUCK_RULE = """
rules:
  orders-late:
    flow: orders
    signal: oldest
    above: 2h
    for: 5m
    severity: critical
    summary: "An order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
"""


@dataclass
class Span:
    """A hand-made span for `request()`: service, stage attributes and end time."""

    service: str
    name: str
    end: float
    attributes: dict[str, str | int] = field(default_factory=dict)
    error: str | None = None
    trace_id: bytes = field(default_factory=lambda: os.urandom(16))
    span_id: bytes = field(default_factory=lambda: os.urandom(8))


def business(service: str, stage: str, order: str, end: float, **extra: str) -> Span:
    attrs: dict[str, str | int] = {
        "flowhealth.flow": "orders",
        "flowhealth.stage": stage,
        "flowhealth.entity.id": order,
    }
    attrs.update({k.replace("_", "."): v for k, v in extra.items()})
    return Span(service, f"orders {stage}", end, attrs)


def request(spans: Sequence[Span]) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for span in spans:
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = span.service
        out = rs.scope_spans.add().spans.add()
        out.trace_id, out.span_id, out.name = span.trace_id, span.span_id, span.name
        out.start_time_unix_nano = int((span.end - 1) * 1e9)
        out.end_time_unix_nano = int(span.end * 1e9)
        for key, value in span.attributes.items():
            if isinstance(value, int):
                out.attributes.add(key=key).value.int_value = value
            else:
                out.attributes.add(key=key).value.string_value = value
        if span.error:
            out.status.code = 2
            out.status.message = span.error
    return req


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(runtime: Runtime) -> Iterator[str]:
    """Run the app with uvicorn in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime, manage_runtime=False), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the receiver did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
