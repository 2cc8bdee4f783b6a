"""Stage events to journeys: one row per entity and flow, joined on the entity id (not the trace).

Each batch loads the journeys it touches in one query per flow, applies its events in Python and
writes them back with executemany. Per-minute aggregates (counts, latency histograms) take what
later signals need, so completed journeys can be dropped without losing their latencies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from ..store.journey_tables import Journey, JourneyCount
from ..store.placeholders import marker
from . import convention as c
from . import latency_rows

JOURNEY: Table = Journey.__table__  # type: ignore[attr-defined]
COUNT: Table = JourneyCount.__table__  # type: ignore[attr-defined]

MAX_SPAN_KEYS = 64  # per journey; a runaway entity must not grow its row without bound
_CHUNK = 500  # entity ids per IN (...) query

# Count measures, as stored in journey_count.measure.
REJECTIONS, RETRIES, DUPLICATES, INTERVENTIONS, EXPIRED, CONTRACT = (
    "rejections",
    "retries",
    "duplicates",
    "interventions",
    "expired",
    "contract",
)
# A contract violation is counted under `contract` with "reason field" in the reason column: the
# keyword has no spaces, so the first space splits them again.
CONTRACT_SEPARATOR = " "


@dataclass(slots=True)
class _State:
    started_at: float
    last_stage: str
    last_at: float
    last_outcome: str
    last_reason: str
    completed_at: float | None
    updated_at: float
    entity_type: str | None
    stages: dict[str, float]
    spans: list[str]
    new: bool = False
    changed: bool = False


@dataclass
class Applied:
    """What one batch changed: spans taken, redeliveries ignored, latencies observed."""

    accepted: int = 0
    redelivered: int = 0
    # Seconds observed per (flow, from stage, to stage), in the order observed.
    latencies: defaultdict[tuple[str, str, str], list[float]] = field(default_factory=lambda: defaultdict(list))


def minute_of(at: float) -> int:
    return int(at // 60) * 60


class _Batch:
    """One fold's aggregates. `entity` runs once per journey and loops over its spans with locals
    only: attribute reads and writes per span were a third of the fold's Python."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.applied = Applied()
        self.counts: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
        self.latency: dict[latency_rows.Key, latency_rows.Observed] = defaultdict(list)

    def entity(self, st: _State, evs: list[c.StageEvent], plan: c.FlowPlan) -> None:
        """Apply one journey's events of this fold, in time order."""
        spans, stages, counts, now = st.spans, st.stages, self.counts, self.now
        pairs_by_stage, end_stage = plan.pairs_by_stage, plan.traces.end
        started, last_at, completed = st.started_at, st.last_at, st.completed_at
        last: c.StageEvent | None = None
        accepted = redelivered = 0
        for ev in evs:
            key, flow, stage, _, _, outcome, reason, at, violations = ev
            if key in spans:
                redelivered += 1  # at-least-once delivery: the same span again changes nothing
                continue
            accepted += 1
            spans.append(key)
            if len(spans) > MAX_SPAN_KEYS:
                del spans[:-MAX_SPAN_KEYS]
            if at < started:
                started = at
            if at >= last_at:
                last_at, last = at, ev
            if violations:
                for path, why in violations:
                    counts[(flow, CONTRACT, stage, f"{why}{CONTRACT_SEPARATOR}{path}"[:128], minute_of(at))] += 1
            if outcome != c.OK:
                if outcome == c.REJECTED:
                    counts[(flow, REJECTIONS, stage, reason, minute_of(at))] += 1
                    continue
                if outcome == c.RETRIED:
                    counts[(flow, RETRIES, stage, "", minute_of(at))] += 1
                    continue
                if outcome == c.MANUAL:
                    counts[(flow, INTERVENTIONS, stage, "", minute_of(at))] += 1
            if stage in stages:
                counts[(flow, DUPLICATES, stage, "", minute_of(at))] += 1
                continue
            stages[stage] = at
            pairs = pairs_by_stage.get(stage)
            if pairs is not None:
                for start, end in pairs:
                    # Spans of different systems arrive in any order: measure when the second one comes.
                    if end == stage and start in stages:
                        self._observe(flow, start, end, stages[start], at)
                    elif start == stage and end in stages:
                        self._observe(flow, start, end, at, stages[end])
            if stage == end_stage and completed is None:
                completed = now
        applied = self.applied
        applied.redelivered += redelivered
        if not accepted:
            return
        applied.accepted += accepted
        st.changed = True
        st.updated_at = now
        st.started_at, st.completed_at = started, completed
        if last is not None:
            st.last_stage, st.last_at, st.last_outcome, st.last_reason = last.stage, last_at, last.outcome, last.reason

    def _observe(self, flow: str, start: str, end: str, t0: float, t1: float) -> None:
        seconds = max(0.0, t1 - t0)  # clocks of different systems drift; never a negative latency
        self.latency[(flow, start, end, minute_of(t1))].append((seconds, t1))
        self.applied.latencies[(flow, start, end)].append(seconds)


def serialize_flows(conn: Connection, flows: Iterable[str]) -> None:
    """Replicas (PostgreSQL): one ingest at a time per flow, so a journey's read-merge-write never interleaves.

    Transaction-scoped advisory locks, taken in name order so two requests cannot deadlock; within one
    process the service's own lock already does this, and SQLite has one writer anyway.
    """
    if conn.dialect.name != "postgresql":
        return
    for flow in sorted(set(flows)):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"journeys:{flow}"})


def apply(conn: Connection, routing: c.Routing, events: Iterable[c.StageEvent], now: float) -> Applied:
    """Fold a batch of stage events into journeys and aggregates (inside the caller's transaction)."""
    batch = _Batch(now)
    grouped: dict[str, dict[str, list[c.StageEvent]]] = {}
    for ev in events:
        entities = grouped.get(ev.flow)
        if entities is None:
            entities = grouped[ev.flow] = {}
        evs = entities.get(ev.entity_id)
        if evs is None:
            entities[ev.entity_id] = [ev]
        else:
            evs.append(ev)
    fold = batch.entity
    # Every flow is read and folded before the first write: on SQLite the first write takes the
    # file's single writer (the receivers' inbox inserts wait behind it), and with a flow's Python
    # between two flows' writes, a fold of many flows held it for nearly all of its work.
    folded: list[tuple[str, dict[str, _State]]] = []
    for flow, entities in grouped.items():
        plan = routing.plans[flow]
        states = _load(conn, flow, list(entities))
        folded.append((flow, states))
        for entity_id, evs in entities.items():
            if len(evs) > 1:
                evs.sort(key=_AT)
            st = states.get(entity_id)
            if st is None:
                first = evs[0]
                # The first event's own values: `entity` takes it as the latest, as for any other.
                st = states[entity_id] = _State(
                    first.at,
                    first.stage,
                    first.at,
                    first.outcome,
                    first.reason,
                    None,
                    now,
                    first.entity_type,
                    {},
                    [],
                    True,
                )
            fold(st, evs, plan)
    histograms = latency_rows.merged(conn, batch.latency)  # read before the first write, as the journeys
    _save(conn, folded)
    _save_counts(conn, batch.counts)
    latency_rows.write(conn, histograms)
    return batch.applied


_AT = itemgetter(7)  # StageEvent.at, the sort key of an entity's events


# The journey columns in the order the driver-level SQL below reads and writes them.
_COLUMNS = "started_at, last_stage, last_at, last_outcome, last_reason, completed_at, updated_at, stages, spans"


_EXCLUDED = ", ".join(f"{name} = excluded.{name}" for name in ["entity_type", *_COLUMNS.split(", ")])


def _load(conn: Connection, flow: str, entity_ids: list[str]) -> dict[str, _State]:
    # Driver-level SQL: this runs for every span batch, and SQLAlchemy's per-row compile and
    # result processing cost more than the query itself.
    states: dict[str, _State] = {}
    mark = marker(conn)
    for i in range(0, len(entity_ids), _CHUNK):
        chunk = entity_ids[i : i + _CHUNK]
        sql = (
            f"SELECT entity_id, entity_type, {_COLUMNS} FROM journey "
            f"WHERE flow = {mark} AND entity_id IN ({', '.join([mark] * len(chunk))})"
        )
        for row in conn.exec_driver_sql(sql, (flow, *chunk)):
            eid, etype, started, stage, last_at, outcome, reason, completed, updated, stages, spans = row
            pairs = stages.split()
            states[eid] = _State(
                started,
                stage,
                last_at,
                outcome,
                reason or "",
                completed,
                updated,
                etype,
                {pairs[j]: int(pairs[j + 1]) / 1e6 for j in range(0, len(pairs), 2)},
                spans.split(),
            )
    return states


def _values(st: _State) -> tuple[Any, ...]:
    # Stages as "name microseconds name microseconds", span keys space-separated: both are
    # identifiers without spaces, and this is several times cheaper than JSON on the hot path.
    # Integer microseconds, not repr(float): its shortest-digits conversion cost 0.3 µs a stage.
    return (
        st.started_at,
        st.last_stage,
        st.last_at,
        st.last_outcome,
        st.last_reason or None,
        st.completed_at,
        st.updated_at,
        " ".join([f"{name} {round(at * 1e6)}" for name, at in st.stages.items()]),
        " ".join(st.spans),
    )


def _save(conn: Connection, folded: list[tuple[str, dict[str, _State]]]) -> None:
    # One executemany per kind of write for all flows: a fold of 100 trace flows made 200 calls.
    mark = marker(conn)
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for flow, states in folded:
        for eid, st in states.items():
            if st.changed:
                if st.new:
                    inserts.append((flow, eid, st.entity_type, *_values(st)))
                else:
                    updates.append((*_values(st), flow, eid))
    if inserts:
        marks = ", ".join([mark] * 12)
        conn.exec_driver_sql(
            # An upsert: a journey another writer inserted since it was read is updated, the batch does not fail.
            f"INSERT INTO journey (flow, entity_id, entity_type, {_COLUMNS}) VALUES ({marks}) "
            f"ON CONFLICT (flow, entity_id) DO UPDATE SET {_EXCLUDED}",
            inserts,
        )
    if updates:
        sets = ", ".join(f"{name} = {mark}" for name in _COLUMNS.split(", "))
        conn.exec_driver_sql(f"UPDATE journey SET {sets} WHERE flow = {mark} AND entity_id = {mark}", updates)


def _save_counts(conn: Connection, counts: dict[tuple[str, str, str, str, int], int]) -> None:
    # One executemany upsert, not an UPDATE then INSERT per key: a fold of spans with rejection
    # reasons or contract violations has hundreds of keys.
    if not counts:
        return
    mark = marker(conn)
    conn.exec_driver_sql(
        f"INSERT INTO journey_count (flow, measure, stage, reason, minute, count) VALUES ({', '.join([mark] * 6)}) "
        "ON CONFLICT (flow, measure, stage, reason, minute) DO UPDATE SET count = journey_count.count + excluded.count",
        [(*key, n) for key, n in counts.items()],
    )


def add_count(conn: Connection, flow: str, measure: str, stage: str, reason: str, minute: int, n: int) -> None:
    """Add `n` to one per-minute counter, creating it when missing."""
    _save_counts(conn, {(flow, measure, stage, reason, minute): n})
