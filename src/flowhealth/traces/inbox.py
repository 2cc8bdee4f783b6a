"""The span inbox: one durable row of stage events per acknowledged export request.

The receiver writes a request's events here and answers; the folder takes rows off in groups and
folds them into journeys in the transaction that deletes them. Rows are claimed by that delete
(`RETURNING`, and `SKIP LOCKED` on PostgreSQL), so two replicas never fold the same row and a
fold that fails leaves its rows for the next try.

Driver-level SQL: both statements run once per request or group on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from .convention import StageEvent


def encode(events: Sequence[StageEvent]) -> str:
    """The events as compact JSON rows, in StageEvent's field order."""
    rows = [
        [e.key, e.flow, e.stage, e.entity_id, e.entity_type, e.outcome, e.reason, e.at, e.violations] for e in events
    ]
    return json.dumps(rows, separators=(",", ":"))


def decode(text: str) -> list[StageEvent]:
    """The events of one inbox row."""
    events = []
    for key, flow, stage, entity_id, entity_type, outcome, reason, at, violations in json.loads(text):
        found = tuple((str(path), str(why)) for path, why in violations) if violations else ()
        events.append(StageEvent(key, flow, stage, entity_id, entity_type, outcome, reason, float(at), found))
    return events


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def put(conn: Connection, events: Sequence[StageEvent], received_at: float) -> None:
    """Add one request's events (inside the caller's transaction)."""
    mark = _mark(conn)
    conn.exec_driver_sql(
        f"INSERT INTO span_inbox (received_at, events) VALUES ({mark}, {mark})", (received_at, encode(events))
    )


def take(conn: Connection, limit: int) -> list[tuple[float, str]]:
    """Claim the oldest `limit` rows by deleting them (inside the caller's transaction), oldest first."""
    mark = _mark(conn)
    skip = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    rows = conn.exec_driver_sql(
        f"DELETE FROM span_inbox WHERE id IN (SELECT id FROM span_inbox ORDER BY id LIMIT {mark}{skip})"
        " RETURNING id, received_at, events",
        (limit,),
    ).all()
    return [(float(received_at), str(events)) for _, received_at, events in sorted(rows)]


def waiting(conn: Connection) -> int:
    """Rows not folded yet."""
    return int(conn.exec_driver_sql("SELECT count(*) FROM span_inbox").scalar_one())
