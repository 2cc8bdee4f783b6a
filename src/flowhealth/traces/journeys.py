"""Stage events to journeys: one row per entity and flow, joined on the entity id (not the trace).

Each batch loads the journeys it touches in one query per flow, folds its events into them (in C
when `_fold.c` is built, else `fold_py.py`) and writes them back with executemany. Per-minute
aggregates (counts, latency histograms) take what later signals need, so completed journeys can be
dropped without losing their latencies.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from ..metric_names import LATENCY_BUCKETS
from ..store.journey_tables import Journey, JourneyCount
from ..store.placeholders import marker
from ..store.upsert import replacing_insert
from . import convention as c
from . import fold_py, latency_rows, native
from . import measures as m
from .measures import CountKey, Counts, Latencies, LatencySummary

JOURNEY: Table = Journey.__table__  # type: ignore[attr-defined]
COUNT: Table = JourneyCount.__table__  # type: ignore[attr-defined]

_CHUNK = 500  # entity ids per IN (...) query


try:
    from . import _fold
except ImportError:  # installed without a compiler: fold_py folds
    _fold = None  # type: ignore[assignment]

if _fold is not None:  # told the words and limits it shares with fold_py
    _fold.configure(
        c.OK,
        c.REJECTED,
        c.RETRIED,
        c.MANUAL,
        m.REJECTIONS,
        m.RETRIES,
        m.DUPLICATES,
        m.INTERVENTIONS,
        m.CONTRACT,
        m.CONTRACT_SEPARATOR,
        fold_py.AT,
        m.MAX_SPAN_KEYS,
        m.MAX_REASON,
        LatencySummary,
        LATENCY_BUCKETS,
    )
NATIVE = _fold  # built or not, whatever FLOWHEALTH_NATIVE says: the tests compare it with fold_py
_group, _fold_flow = fold_py.group, fold_py.fold_flow
if _fold is not None and native.WANTED:
    _group, _fold_flow = _fold.group, _fold.fold_flow


@dataclass
class Applied:
    """What one batch changed: spans taken, redeliveries ignored, latencies observed."""

    accepted: int = 0
    redelivered: int = 0
    dropped: int = 0  # events of flows without a traces block any more
    # Latencies observed per (flow, from stage, to stage, minute), summed.
    latencies: Latencies = field(default_factory=dict)


def serialize_flows(conn: Connection, flows: Iterable[str]) -> None:
    """Replicas (PostgreSQL): one ingest at a time per flow, so a journey's read-merge-write never interleaves.

    Transaction-scoped advisory locks, taken in name order so two requests cannot deadlock; within one
    process the service's own lock already does this, and SQLite has one writer anyway.
    """
    if conn.dialect.name != "postgresql":
        return
    for flow in sorted(set(flows)):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"journeys:{flow}"})


Grouped = dict[str, dict[str, list[c.StageEvent]]]  # events by flow, then entity, in arrival order


def group(routing: c.Routing, batches: list[Sequence[c.StageEvent]]) -> tuple[Grouped, int]:
    """The events of a group of requests by flow and entity; and how many belong to no flow any more.

    A flow the routing no longer has (a reload removed its traces block) has no journeys to fold into.
    """
    return _group(batches, routing.plans)


def parts(grouped: Grouped, size: int) -> Iterator[Grouped]:
    """`grouped` cut into parts of at most `size` entities, in order; a flow may span two parts."""
    part: Grouped = {}
    room = size
    for flow, entities in grouped.items():
        items = iter(entities.items())
        while piece := dict(itertools.islice(items, room)):
            part[flow] = piece
            room -= len(piece)
            if room == 0:
                yield part
                part, room = {}, size
    if part:
        yield part


def apply(
    conn: Connection,
    routing: c.Routing,
    batches: list[Sequence[c.StageEvent]],
    now: float,
) -> Applied:
    """Fold the stage events of a group of requests into journeys and aggregates (inside the caller's transaction).

    Events of a flow the routing no longer has (a reload removed its traces block) are counted in
    `Applied.dropped`.
    """
    grouped, dropped = group(routing, batches)
    applied = apply_grouped(conn, routing, grouped, now)
    applied.dropped = dropped
    return applied


def apply_grouped(conn: Connection, routing: c.Routing, grouped: Grouped, now: float) -> Applied:
    """`apply` for events grouped already: every entity of `grouped` is read, folded and written here."""
    applied = Applied()
    if not grouped:
        return applied
    serialize_flows(conn, grouped)
    counts: Counts = defaultdict(int)
    # Every flow is read and folded before the first write: on SQLite the first write takes the
    # file's single writer (the receivers' inbox inserts wait behind it), and with a flow's Python
    # between two flows' writes, a fold of many flows held it for nearly all of its work.
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for flow, entities in grouped.items():
        plan = routing.plans[flow]
        rows = _load(conn, flow, list(entities))
        new, changed, accepted, redelivered = _fold_flow(
            flow, entities, rows, plan.pairs_by_stage, plan.traces.end, now, counts, applied.latencies
        )
        inserts += new
        updates += changed
        applied.accepted += accepted
        applied.redelivered += redelivered
    histograms = latency_rows.merged(conn, applied.latencies)  # read before the first write, as the journeys
    _save(conn, inserts, updates)
    _save_counts(conn, counts)
    latency_rows.write(conn, histograms)
    return applied


# The journey columns in the order the driver-level SQL below reads and writes them.
_COLUMNS = "started_at, last_stage, last_at, last_outcome, last_reason, completed_at, updated_at, stages, spans"


def _load(conn: Connection, flow: str, entity_ids: list[str]) -> list[tuple[Any, ...]]:
    """The journeys of these entities as stored: (entity_id, entity_type, *_COLUMNS) each."""
    # Driver-level SQL: this runs for every span batch, and SQLAlchemy's per-row compile and
    # result processing cost more than the query itself.
    rows: list[tuple[Any, ...]] = []
    mark = marker(conn)
    for i in range(0, len(entity_ids), _CHUNK):
        chunk = entity_ids[i : i + _CHUNK]
        sql = (
            f"SELECT entity_id, entity_type, {_COLUMNS} FROM journey "
            f"WHERE flow = {mark} AND entity_id IN ({', '.join([mark] * len(chunk))})"
        )
        rows.extend(tuple(row) for row in conn.exec_driver_sql(sql, (flow, *chunk)))
    return rows


def _save(conn: Connection, inserts: list[tuple[Any, ...]], updates: list[tuple[Any, ...]]) -> None:
    # One executemany per kind of write for all flows: a fold of 100 trace flows made 200 calls.
    mark = marker(conn)
    if inserts:
        # An upsert: a journey another writer inserted since it was read is updated, the batch does not fail.
        values = ("entity_type", *_COLUMNS.split(", "))
        conn.exec_driver_sql(replacing_insert("journey", ("flow", "entity_id"), values, mark), inserts)
    if updates:
        sets = ", ".join(f"{name} = {mark}" for name in _COLUMNS.split(", "))
        conn.exec_driver_sql(f"UPDATE journey SET {sets} WHERE flow = {mark} AND entity_id = {mark}", updates)


def _save_counts(conn: Connection, counts: dict[CountKey, int]) -> None:
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
