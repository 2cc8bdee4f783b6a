"""The trace service: takes OTLP export requests in, refreshes trace signals, answers evidence.

The receiver's path is short: parse, extract, one inbox row per request, answer (`accept_body`).
Journeys are folded from the inbox off that path, by the folder thread and at every refresh.
Folds are serialised by one lock: the state database has one writer at a time anyway (SQLite),
and a batch's read-modify-write of journeys must not interleave with another batch's.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..clock import Clock
from ..errors import StoreError
from ..evidence import EvidenceTable
from ..metrics import Metrics
from ..model.model import Model
from ..model.probes import TraceProbe
from ..store import no_wait
from ..store.checkpoints import Checkpoints
from ..store.db import transaction
from ..store.failures import describe
from ..store.samples import Reading, record_readings
from . import aggregate, inbox, journeys
from .convention import Routing, StageEvent
from .decode import PROTOBUF, inflate, lean, parse
from .extract import Extracted, extract
from .folder import Folder
from .records import extract_protobuf

MIN_RETENTION = timedelta(hours=1)
# Inbox rows (export requests) folded in one transaction: large enough that a journey's spans from
# consecutive requests are merged in memory, small enough that the receiver's inserts, which wait
# for SQLite's single writer, do not wait long.
FOLD_ROWS = 32
# Journeys written per transaction when folding on SQLite (see `_fold_in_parts`): 5-10 ms of the writer each.
FOLD_PART = 1024
# Seconds the folder collects requests before folding them; signal values are read every 15-30 s.
FOLD_LINGER = 0.5


@dataclass(frozen=True)
class Received:
    """An export request read: its business spans, and the bytes its inbox row keeps."""

    extracted: Extracted
    kept: bytes


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
        self._folder = Folder(self.fold_arrived, FOLD_LINGER)
        self._recent = inbox.Recent()
        self._checkpoints = Checkpoints(engine)
        self._no_wait = no_wait.Writer(engine)  # the event loop's connection (`keep_now`)

    @property
    def interval(self) -> float | None:
        """Seconds between refreshes: the shortest trace signal interval, None without trace flows."""
        intervals = [ref.signal.probe.interval.total_seconds() for ref in self.signals]  # type: ignore[union-attr]
        if intervals:
            return min(intervals)
        return 30.0 if self.routing.plans else None

    def accept_body(self, media: str, body: bytes, gzipped: bytes | None = None) -> IngestResult:
        """The receiver's path: parse, extract and keep the request durably; journeys follow off this path.

        `gzipped` is a protobuf body as it came, compressed: the inbox keeps it instead, a row
        about a seventh the size. `accepted` counts the business spans taken (redeliveries are
        recognised when folded).
        """
        return self.keep(self.read(media, body, gzipped))

    def read(self, media: str, body: bytes, gzipped: bytes | None = None) -> Received:
        """Parse and extract an export request (raises MalformedPayload); `keep` stores it."""
        if media == PROTOBUF:
            # The native reader when built, straight from the bytes; upb and extract.py otherwise.
            return Received(extract_protobuf(body, self.routing), gzipped or body)
        request = parse(media, body)
        # The inbox keeps protobuf: a JSON body is stored as its lean protobuf reading.
        return Received(extract(request, self.routing), request.SerializeToString())

    def keep(self, received: Received) -> IngestResult:
        """Store the request's inbox row, waiting for the state database's writer if need be (raises StoreError)."""
        if received.extracted.events:
            row = None
            try:
                # A plain connection, not an ORM session: this is the one write on the request path.
                with self._engine.begin() as conn:
                    row = inbox.put(conn, received.kept, self._clock.now().timestamp())
                    # Before the commit: the folder cannot see the row earlier, so it finds the events here.
                    self._recent.keep(row, received.extracted.events)
            except BaseException as exc:
                if row is not None:
                    self._recent.forget(row)
                if isinstance(exc, SQLAlchemyError):
                    raise StoreError(f"state database error: {describe(exc)}") from exc
                raise
        return self._kept(received)

    def keep_now(self, received: Received) -> IngestResult | None:
        """`keep` without waiting, for the event loop: None when the row cannot be written at once.

        That is when another writer holds the state database, on PostgreSQL (no connection of
        this kind), or on any database error; the caller then calls `keep` on a worker thread.
        """
        if not received.extracted.events:
            return self._kept(received)
        with self._no_wait.connection() as conn:
            if conn is None:
                return None
            row = None
            try:
                row = inbox.put_now(conn, received.kept, self._clock.now().timestamp())
                self._recent.keep(row, received.extracted.events)
                conn.commit()
            except sqlite3.Error:
                if row is not None:
                    self._recent.forget(row)
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
                return None
        return self._kept(received)

    def _kept(self, received: Received) -> IngestResult:
        extracted = received.extracted
        if extracted.events:
            self._folder.wake()
        self._metrics.trace_spans.labels("rejected").inc(extracted.rejected_count)
        return IngestResult(len(extracted.events), extracted.rejected_count, 0, extracted.message())

    def ingest_body(self, media: str, body: bytes) -> IngestResult:
        """Parse an OTLP/HTTP body and fold it into journeys at once (raises MalformedPayload, StoreError)."""
        if media == PROTOBUF:
            return self._fold(extract_protobuf(body, self.routing))
        return self._ingest(parse(media, body))

    def ingest(self, request: ExportTraceServiceRequest) -> IngestResult:
        """Fold the request's business spans into journeys at once; idempotent on (trace id, span id)."""
        return self._ingest(lean(request))

    def _ingest(self, request: Any) -> IngestResult:
        return self._fold(extract(request, self.routing))

    def _fold(self, extracted: Extracted) -> IngestResult:
        applied = self._apply(extracted.events, self._clock.now().timestamp())
        self._count(applied, extracted)
        return IngestResult(applied.accepted, extracted.rejected_count, applied.redelivered, extracted.message())

    def drain(self) -> None:
        """Fold every inbox row into journeys, a group of rows per transaction."""
        while self.fold_waiting():
            pass

    def fold_arrived(self) -> None:
        """The folder's pass: full groups while they last, then the partial group left, then stop.

        Not `drain`: under a steady stream, requests keep arriving while a group is folded, and
        chasing them folded one request at a time. Each of those small folds read back and
        rewrote the journeys the previous request had just written (a journey's spans come in
        consecutive requests, one per system): 21-24 us of CPU per span instead of 14. Requests
        that arrive during this pass wake the folder again, which lingers and folds them together.
        """
        while self.fold_waiting() == FOLD_ROWS:
            pass
        # Off the receiver's path and outside the writers' lock: see store/checkpoints.py.
        self._checkpoints.maybe()

    def fold_waiting(self, limit: int = FOLD_ROWS) -> int:
        """Fold up to `limit` inbox rows, oldest first, and delete them; how many there were."""
        with self._lock:
            if self._engine.dialect.name == "sqlite":
                return self._fold_in_parts(limit)
            return self._fold_at_once(limit)

    def _fold_at_once(self, limit: int) -> int:
        """One transaction that reads, folds and deletes the rows (PostgreSQL: they stay locked against other replicas)."""
        with transaction(self._engine) as session:
            conn = session.connection()
            rows = inbox.oldest(conn, limit)
            if not rows:
                return 0
            batches = self._batches(conn, rows)
            # The newest request's ingest time stands for the group: journeys' updated/completed times.
            applied = journeys.apply(conn, self.routing, batches, max(row[1] for row in rows))
            inbox.remove(conn, [row[0] for row in rows])
        self._count(applied, Extracted())
        return len(rows)

    def _fold_in_parts(self, limit: int) -> int:
        """SQLite: the rows' journeys written FOLD_PART entities per transaction, then the rows deleted.

        SQLite has one writer, and an export that arrives while a fold writes waits for it on a
        worker thread: one transaction for 32 requests of new journeys held the writer for up to
        ~150 ms, long enough for an SDK's queue to overflow behind it. A crash or error between two
        parts is harmless: the rows are still in the inbox, and folding them again finds the spans
        of the parts written already in their journeys (redeliveries, counted nowhere twice).
        """
        with self._engine.connect() as conn:
            try:
                rows = inbox.oldest(conn, limit)
                if not rows:
                    return 0
                batches = self._batches(conn, rows)
                conn.commit()  # the read ends here; each part is a write transaction of its own
                grouped, dropped = journeys.group(self.routing, batches)
                now = max(row[1] for row in rows)
                for part in journeys.parts(grouped, FOLD_PART):
                    applied = journeys.apply_grouped(conn, self.routing, part, now)
                    conn.commit()
                    self._count(applied, Extracted())
                inbox.remove(conn, [row[0] for row in rows])
                conn.commit()
            except SQLAlchemyError as exc:
                conn.rollback()
                raise StoreError(f"state database error: {describe(exc)}") from exc
        self._count(journeys.Applied(dropped=dropped), Extracted())
        return len(rows)

    def _batches(self, conn: Connection, rows: list[inbox.Row]) -> list[Sequence[StageEvent]]:
        """The events of each row: from memory for rows this process wrote, else from the body."""
        known = self._recent.take([row[0] for row in rows])
        again = inbox.bodies(conn, [row[0] for row in rows if row[0] not in known and row[3]])
        return [self._events_of(row, known, again) for row in rows]

    def _events_of(
        self, row: inbox.Row, known: dict[int, Sequence[StageEvent]], bodies: dict[int, bytes]
    ) -> Sequence[StageEvent]:
        id_, _, text, has_body = row
        if id_ in known:
            return known[id_]
        if not has_body:
            return inbox.decode(text)
        # Another process wrote the row, or this one before a restart. Its rejected spans were
        # answered and counted then; spans of a flow a reload removed since are left out uncounted.
        return extract_protobuf(inflate(bodies[id_]), self.routing).events

    def close(self) -> None:
        """Stop the folder thread; rows it did not reach stay in the inbox for the next start."""
        self._folder.close()
        self._no_wait.close()

    def _apply(self, events: list[StageEvent], now: float) -> journeys.Applied:
        if not events:
            return journeys.Applied()
        with self._lock, transaction(self._engine) as session:
            return journeys.apply(session.connection(), self.routing, [events], now)

    def _count(self, applied: journeys.Applied, extracted: Extracted) -> None:
        spans = self._metrics.trace_spans
        spans.labels("accepted").inc(applied.accepted)
        spans.labels("redelivered").inc(applied.redelivered)
        spans.labels("rejected").inc(extracted.rejected_count + applied.dropped)
        # The fold's sums per stage pair and minute, not an observe per latency: a fold observes thousands.
        for (flow, start, end, _), summary in applied.latencies.items():
            self._metrics.journey_latency.labels(flow, start, end).observe_summary(summary.buckets, summary.total)

    def refresh(self) -> None:
        """Expire journeys, prune aggregates and record the current value of every trace signal.

        Short steps, not one long transaction: the signal values are read outside any write
        transaction, so the minutes of journeys behind them never hold the state database's single
        writer (SQLite) while evaluation cycles and probe results wait for it.
        """
        self.drain()
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
