"""The trace service: takes OTLP export requests in, refreshes trace signals, answers evidence.

Writes are serialised by one lock: the state database has one writer at a time anyway (SQLite),
and a batch's read-modify-write of journeys must not interleave with another batch's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy.engine import Engine

from ..clock import Clock
from ..evidence import EvidenceTable
from ..metrics import Metrics
from ..model.model import Model
from ..model.probes import TraceProbe
from ..store.db import transaction
from ..store.samples import Reading, record_readings
from . import aggregate, journeys
from .convention import Routing
from .decode import lean, parse
from .extract import extract

MIN_RETENTION = timedelta(hours=1)


@dataclass(frozen=True)
class IngestResult:
    """What became of the spans of one export request."""

    accepted: int
    rejected: int
    redelivered: int
    message: str


class Gate:
    """A bounded number of export requests in progress; the rest are told to come back later."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._used = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self._used >= self.capacity:
                return False
            self._used += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._used -= 1


class TraceService:
    """Span ingestion and trace-signal values for one model and state database."""

    def __init__(self, model: Model, engine: Engine, clock: Clock, metrics: Metrics, *, max_pending: int = 8) -> None:
        self.model = model
        self.routing = Routing.of(model)
        self.gate = Gate(max_pending)
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        self._lock = threading.Lock()
        self.signals = [ref for ref in model.signals() if isinstance(ref.signal.probe, TraceProbe)]

    @property
    def interval(self) -> float | None:
        """Seconds between refreshes: the shortest trace signal interval, None without trace flows."""
        intervals = [ref.signal.probe.interval.total_seconds() for ref in self.signals]  # type: ignore[union-attr]
        if intervals:
            return min(intervals)
        return 30.0 if self.routing.plans else None

    def ingest_body(self, media: str, body: bytes) -> IngestResult:
        """Parse an OTLP/HTTP body and ingest it (raises MalformedPayload, StoreError)."""
        return self._ingest(parse(media, body))

    def ingest(self, request: ExportTraceServiceRequest) -> IngestResult:
        """Fold the request's business spans into journeys; idempotent on (trace id, span id)."""
        return self._ingest(lean(request))

    def _ingest(self, request: Any) -> IngestResult:
        extracted = extract(request, self.routing)
        applied = journeys.Applied()
        if extracted.events:
            with self._lock, transaction(self._engine) as session:
                journeys.serialize_flows(session.connection(), {event.flow for event in extracted.events})
                applied = journeys.apply(
                    session.connection(), self.routing, extracted.events, self._clock.now().timestamp()
                )
        spans = self._metrics.trace_spans
        spans.labels("accepted").inc(applied.accepted)
        spans.labels("redelivered").inc(applied.redelivered)
        spans.labels("rejected").inc(extracted.rejected_count)
        for flow, start, end, seconds in applied.latencies:
            self._metrics.journey_latency.labels(flow, start, end).observe(seconds)
        return IngestResult(applied.accepted, extracted.rejected_count, applied.redelivered, extracted.message())

    def refresh(self) -> None:
        """Expire journeys, prune aggregates and record the current value of every trace signal.

        Short steps, not one long transaction: the signal values are read outside any write
        transaction, so the minutes of journeys behind them never hold the state database's single
        writer (SQLite) while evaluation cycles and probe results wait for it.
        """
        now = self._clock.now()
        ts = now.timestamp()
        for flow_id, plan in self.routing.plans.items():
            windows = [r.signal.probe.window for r in self.signals if r.flow_id == flow_id]  # type: ignore[union-attr]
            retention = max([MIN_RETENTION, *windows]).total_seconds()
            # One transaction per flow: a waiting writer gets its turn between flows.
            with self._lock, transaction(self._engine) as session:
                expired = aggregate.expire(session.connection(), flow_id, plan.traces, retention, ts)
            self._metrics.journeys_expired.labels(flow_id).inc(expired)
        readings: list[tuple[str, str, list[Reading]]] = []
        with self._engine.connect() as conn:
            seen: dict[str, bool] = {}
            for ref in self.signals:
                traces = ref.flow.traces
                assert traces is not None and isinstance(ref.signal.probe, TraceProbe)
                if ref.flow_id not in seen:
                    seen[ref.flow_id] = aggregate.has_data(conn, ref.flow_id)
                if not seen[ref.flow_id]:
                    continue  # no span yet: the signal has no value, which is not an error
                values = aggregate.readings(conn, ref.flow_id, traces, ref.signal.probe, ts)
                readings.append((ref.flow_id, ref.signal_id, values))
        with transaction(self._engine) as session:
            for flow_id, signal_id, values in readings:
                record_readings(session, flow_id, signal_id, values, now, "trace")

    def evidence(self, flow_id: str, signal_id: str) -> EvidenceTable | None:
        """The journeys behind a trace signal (oldest in flight first), for alert messages."""
        flow = self.model.flows[flow_id]
        probe = flow.signals[signal_id].probe
        if not isinstance(probe, TraceProbe) or flow.traces is None:
            return None
        entity = self.routing.plans[flow_id].entity_type
        with transaction(self._engine) as session:
            return aggregate.evidence(session.connection(), flow_id, entity, probe, self._clock.now().timestamp())
