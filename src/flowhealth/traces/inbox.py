"""The span inbox: one durable row per acknowledged export request, its OTLP protobuf body.

The receiver writes the body of a request with business spans here and answers (the body is
already bytes: encoding its events cost a fifth of the request path); the folder reads rows in
groups and folds them into journeys in the transaction that deletes them, so a fold that fails leaves its
rows for the next try. On PostgreSQL the rows are locked when read (`FOR UPDATE SKIP LOCKED`), so
two replicas never fold the same row; on SQLite one process writes, and folds take turns on the
trace service's lock.

Driver-level SQL: both statements run once per request or group on the hot path.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from ..errors import StoreError
from ..store.placeholders import marker
from .convention import StageEvent

_INSERT = "INSERT INTO span_inbox (received_at, events, body) VALUES ({mark}, '', {mark})"

# A row as read: id, ingest time, JSON events (rows before migration 0012) or "", whether it has a body.
Row = tuple[int, float, str, bool]


def decode(text: str) -> list[StageEvent]:
    """The events of an inbox row written before migration 0012."""
    events = list(map(StageEvent._make, json.loads(text)))
    for i, ev in enumerate(events):
        if ev.violations:  # rare: JSON gave lists where the event holds tuples
            events[i] = ev._replace(violations=tuple((str(path), str(why)) for path, why in ev.violations))
    return events


def put(conn: Connection, body: bytes, received_at: float) -> int:
    """Add one request's protobuf body (inside the caller's transaction); the row's id."""
    mark = marker(conn)
    sql = _INSERT.format(mark=mark)
    if conn.dialect.name == "sqlite":
        # The cursor's lastrowid: RETURNING made SQLAlchemy build a result per request (0.1 ms of ~2).
        return int(conn.exec_driver_sql(sql, (received_at, body)).lastrowid)
    return int(conn.exec_driver_sql(f"{sql} RETURNING id", (received_at, body)).scalar_one())


def put_now(conn: sqlite3.Connection, body: bytes, received_at: float) -> int:
    """`put` on a SQLite connection of `store.no_wait`, which raises instead of waiting; the caller commits."""
    row = conn.execute(_INSERT.format(mark="?"), (received_at, body)).lastrowid
    assert row is not None  # set by every INSERT that succeeds
    return row


def oldest(conn: Connection, limit: int) -> list[Row]:
    """The oldest `limit` rows, locked against other replicas' folders on PostgreSQL (`SKIP LOCKED`).

    A read, so on SQLite the fold takes the single writer's lock only at its first write: the
    receiver's inserts are not kept waiting while the fold works in Python. Bodies are not read
    here: the rows this process wrote have their events in memory (`bodies` reads the others').
    """
    skip = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    rows = conn.exec_driver_sql(
        f"SELECT id, received_at, events, body IS NOT NULL FROM span_inbox ORDER BY id LIMIT {marker(conn)}{skip}",
        (limit,),
    ).all()
    return [(int(id_), float(received_at), str(events), bool(has_body)) for id_, received_at, events, has_body in rows]


def bodies(conn: Connection, rows: Sequence[int]) -> dict[int, bytes]:
    """The protobuf bodies of these rows, by id."""
    if not rows:
        return {}
    mark = marker(conn)
    found = conn.exec_driver_sql(
        f"SELECT id, body FROM span_inbox WHERE id IN ({', '.join([mark] * len(rows))})", tuple(rows)
    )
    return {int(id_): bytes(body) for id_, body in found}


def remove(conn: Connection, rows: Sequence[int]) -> None:
    """Delete folded rows (in the fold's transaction); a row gone already means another folder took it."""
    mark = marker(conn)
    gone = conn.exec_driver_sql(
        f"DELETE FROM span_inbox WHERE id IN ({', '.join([mark] * len(rows))})", tuple(rows)
    ).rowcount
    if gone != len(rows):
        raise Conflict(f"{len(rows) - gone} of {len(rows)} inbox rows were folded by another process")


class Conflict(StoreError):
    """Rows of a fold were taken by another folder; the fold is rolled back and tried again."""


class Recent:
    """The events of rows this process wrote and has not folded yet, so the fold need not extract them again.

    Bounded: past `capacity` rows (the folder stalled), further rows are extracted again from their body.
    """

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._events: dict[int, Sequence[StageEvent]] = {}
        self._lock = threading.Lock()

    def keep(self, row: int, events: Sequence[StageEvent]) -> None:
        with self._lock:
            if len(self._events) < self._capacity:
                self._events[row] = events

    def forget(self, row: int) -> None:
        with self._lock:
            self._events.pop(row, None)

    def take(self, rows: Sequence[int]) -> dict[int, Sequence[StageEvent]]:
        """The events of those of these rows this process wrote, by id (they are forgotten here)."""
        with self._lock:
            return {row: kept for row in rows if (kept := self._events.pop(row, None)) is not None}


def waiting(conn: Connection) -> int:
    """Rows not folded yet."""
    return int(conn.exec_driver_sql("SELECT count(*) FROM span_inbox").scalar_one())
