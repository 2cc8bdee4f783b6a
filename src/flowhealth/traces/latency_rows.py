"""Per-minute stage-to-stage latency histograms: read in one query, merged in Python, written in one.

A fold observes latencies under many keys at once, one per trace flow, stage pair and minute.
They were read and written one key at a time through SQLAlchemy Core, about 1 ms a key: with 100
trace flows that was 150 ms of every fold, with SQLite's single writer held for most of it (the
receivers' inbox inserts wait behind it). Now the rows are read before the fold writes anything,
one query per chunk of keys, and written back with one executemany upsert.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from typing import Any

from sqlalchemy.engine import Connection

from ..metrics import LATENCY_BUCKETS

Key = tuple[str, str, str, int]  # flow, from stage, to stage, minute (epoch seconds)
Observed = list[tuple[float, float]]  # (seconds, end time) in the order observed
Row = tuple[str, str, str, int, int, float, float, float, float, str]  # a journey_latency row, as written

_CHUNK = 200  # keys per query: 800 parameters, under SQLite's historical limit of 999
_COLUMNS = "flow, from_stage, to_stage, minute, count, total, max, last, last_at, buckets"
_MERGE = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS.split(", ")[4:])


def merged(conn: Connection, latency: dict[Key, Observed]) -> list[Row]:
    """The rows `latency` turns the stored histograms into (a read only: `write` stores them)."""
    if not latency:
        return []
    stored = _stored(conn, latency)
    rows: list[Row] = []
    for key, observed in latency.items():
        found = stored.get(key)
        if found is None:
            count, total, top, last, last_at, buckets = 0, 0.0, 0.0, 0.0, float("-inf"), [0] * len(LATENCY_BUCKETS)
        else:
            count, total, top, last, last_at, text = found
            buckets = json.loads(text)
        count += len(observed)
        for seconds, at in observed:
            buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound >= seconds (the last is inf)
            total += seconds  # one at a time, in order: the same float sum as reading them one by one
            if seconds > top:
                top = seconds
            if at >= last_at:
                last, last_at = seconds, at
        rows.append((*key, count, total, top, last, last_at, json.dumps(buckets)))
    return rows


def write(conn: Connection, rows: list[Row]) -> None:
    """Store merged rows: new keys inserted, existing ones replaced by their merged values."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO journey_latency ({_COLUMNS}) VALUES ({', '.join([mark] * 10)}) "
        f"ON CONFLICT (flow, from_stage, to_stage, minute) DO UPDATE SET {_MERGE}",
        rows,
    )


def _stored(conn: Connection, latency: dict[Key, Observed]) -> dict[Key, tuple[Any, ...]]:
    # The keys themselves, a chunk per query: each term is one primary-key lookup (SQLite's
    # multi-index OR, PostgreSQL's bitmap OR). A range of minutes per flow instead would read every
    # histogram the retention keeps (a day of minutes per stage pair) at every fold.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    keys = list(latency)
    found: dict[Key, tuple[Any, ...]] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        term = f"(flow = {mark} AND from_stage = {mark} AND to_stage = {mark} AND minute = {mark})"
        sql = f"SELECT {_COLUMNS} FROM journey_latency WHERE {' OR '.join([term] * len(chunk))}"
        for flow, start, end, minute, *values in conn.exec_driver_sql(sql, tuple(v for key in chunk for v in key)):
            found[(flow, start, end, int(minute))] = tuple(values)
    return found
