"""Journeys to signal values: latencies, entities in flight, counts; expiry; evidence.

Runs on the scheduler (see `TraceService.refresh`), not per span: values are recomputed from the
persisted journeys, so every replica and every restart reports the same numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from ..evidence import EvidenceTable
from ..metric_names import LATENCY_BUCKETS
from ..model.durations import human_duration
from ..model.probes import TraceProbe
from ..model.traces import FlowTraces
from ..semconv import LABEL_REASON, LABEL_STAGE
from ..store.samples import Reading
from . import convention as c
from .journeys import COUNT, JOURNEY, add_count
from .latency_rows import LATENCY
from .measures import CONTRACT, CONTRACT_SEPARATOR, EXPIRED, minute_of

EVIDENCE_ROWS = 5


def has_data(conn: Connection, flow: str) -> bool:
    """Whether any span of this flow was ever kept; without one a trace signal has no value."""
    for table in (JOURNEY, COUNT, LATENCY):
        if conn.execute(select(table.c.flow).where(table.c.flow == flow).limit(1)).first() is not None:
            return True
    return False


def readings(conn: Connection, flow: str, traces: FlowTraces, probe: TraceProbe, now: float) -> list[Reading]:
    """The current value(s) of one trace signal."""
    since = minute_of(now - probe.window.total_seconds())
    if probe.measure == "in_flight":
        open_count = conn.execute(_open(flow, func.count())).scalar_one()
        return [Reading(float(open_count))]
    if probe.measure == "oldest":
        oldest = conn.execute(_open(flow, func.min(JOURNEY.c.started_at))).scalar_one()
        return [Reading(0.0 if oldest is None else max(0.0, now - float(oldest)))]
    if probe.measure == "latency":
        start, end = traces.path(probe.from_, probe.to)
        value = latency(conn, flow, start, end, since, probe.statistic)
        return [] if value is None else [Reading(value)]
    if probe.measure == "contract_violations":
        return _violations(conn, flow, since)
    stmt = (
        select(COUNT.c.stage, COUNT.c.reason, func.sum(COUNT.c["count"]))
        .where(COUNT.c.flow == flow, COUNT.c.measure == probe.measure, COUNT.c.minute >= since)
        .group_by(COUNT.c.stage, COUNT.c.reason)
    )
    out = []
    for stage, reason, total in conn.execute(stmt):
        labels = {LABEL_STAGE: stage, LABEL_REASON: reason} if probe.measure == "rejections" else {LABEL_STAGE: stage}
        out.append(Reading(float(total), labels))
    return out


def _violations(conn: Connection, flow: str, since: int) -> list[Reading]:
    """Payloads that broke the contract, by field and reason (all stages together)."""
    stmt = (
        select(COUNT.c.reason, func.sum(COUNT.c["count"]))
        .where(COUNT.c.flow == flow, COUNT.c.measure == CONTRACT, COUNT.c.minute >= since)
        .group_by(COUNT.c.reason)
    )
    out = []
    for encoded, total in conn.execute(stmt):
        reason, _, field = str(encoded).partition(CONTRACT_SEPARATOR)
        out.append(Reading(float(total), {"field": field, "reason": reason}))
    return sorted(out, key=lambda r: r.key) or [Reading(0.0)]  # zero, not "no data", while payloads conform


def _open(flow: str, column: Any) -> Any:
    return select(column).where(JOURNEY.c.flow == flow, JOURNEY.c.completed_at.is_(None))


def latency(conn: Connection, flow: str, start: str, end: str, since: int, statistic: str) -> float | None:
    """A latency statistic over the per-minute histograms since `since`; None without data."""
    stmt = select(LATENCY).where(
        LATENCY.c.flow == flow, LATENCY.c.from_stage == start, LATENCY.c.to_stage == end, LATENCY.c.minute >= since
    )
    rows = [r._mapping for r in conn.execute(stmt)]  # Row.count is tuple.count: read through the mapping
    if not rows:
        return None
    if statistic == "latest":
        return float(max(rows, key=lambda r: r["last_at"])["last"])
    top = max(float(r["max"]) for r in rows)
    if statistic == "max":
        return top
    buckets = [0] * len(LATENCY_BUCKETS)
    for r in rows:
        for i, n in enumerate(json.loads(r["buckets"])):
            buckets[i] += n
    return min(top, quantile(float(statistic[1:]) / 100, buckets))


def quantile(q: float, buckets: list[int]) -> float:
    """Like Prometheus histogram_quantile: linear interpolation inside the bucket."""
    total = sum(buckets)
    rank, seen = q * total, 0
    for i, n in enumerate(buckets):
        if n and seen + n >= rank:
            lower = LATENCY_BUCKETS[i - 1] if i else 0.0
            upper = LATENCY_BUCKETS[i]
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - seen) / n
        seen += n
    return 0.0


def expire(conn: Connection, flow: str, traces: FlowTraces, retention: float, now: float) -> int:
    """Drop completed journeys after `keep_completed`, abandoned ones after `horizon`; prune aggregates."""
    conn.execute(
        delete(JOURNEY).where(
            JOURNEY.c.flow == flow,
            JOURNEY.c.completed_at.is_not(None),
            JOURNEY.c.completed_at < now - traces.keep_completed.total_seconds(),
        )
    )
    abandoned = (
        (JOURNEY.c.flow == flow)
        & JOURNEY.c.completed_at.is_(None)
        & (JOURNEY.c.updated_at < now - traces.horizon.total_seconds())
    )
    gone = int(conn.execute(select(func.count()).where(abandoned)).scalar_one())
    if gone:
        conn.execute(delete(JOURNEY).where(abandoned))
        add_count(conn, flow, EXPIRED, "", "", minute_of(now), gone)
    oldest_minute = minute_of(now - retention)
    conn.execute(delete(COUNT).where(COUNT.c.flow == flow, COUNT.c.minute < oldest_minute))
    conn.execute(delete(LATENCY).where(LATENCY.c.flow == flow, LATENCY.c.minute < oldest_minute))
    return gone


def evidence(conn: Connection, flow: str, entity: str, probe: TraceProbe, now: float) -> EvidenceTable:
    """The journeys behind a trace signal's value, oldest first, in the evidence table format."""
    where = (JOURNEY.c.flow == flow) & JOURNEY.c.completed_at.is_(None)
    if probe.measure == "rejections":
        where = where & (JOURNEY.c.last_outcome == c.REJECTED)
    stmt = (
        select(
            JOURNEY.c.entity_id,
            JOURNEY.c.last_stage,
            JOURNEY.c.last_outcome,
            JOURNEY.c.last_reason,
            JOURNEY.c.started_at,
        )
        .where(where)
        .order_by(JOURNEY.c.started_at)
        .limit(EVIDENCE_ROWS)
    )
    rows = [
        [entity_id, stage, outcome if not reason else f"{outcome}: {reason}", human_duration(max(0.0, now - started))]
        for entity_id, stage, outcome, reason, started in conn.execute(stmt)
    ]
    return EvidenceTable(columns=[entity, "last stage", "outcome", "waiting"], rows=rows)
