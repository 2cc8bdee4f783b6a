"""Per-minute stage-to-stage latency histograms: read in one query, merged in Python, written in one.

A fold observes latencies under many keys at once, one per trace flow, stage pair and minute.
They were read and written one key at a time through SQLAlchemy Core, about 1 ms a key: with 100
trace flows that was 150 ms of every fold, with SQLite's single writer held for most of it (the
receivers' inbox inserts wait behind it). Now the rows are read before the fold writes anything,
one query per chunk of keys, and written back with one upsert.

Both statements are driver-level SQL: built through SQLAlchemy's `insert().on_conflict_do_update`,
the upsert's `excluded` column collection was constructed anew for every call, an eighth of a
fold's CPU (a fold of 20 requests writes several parts, each with its own histograms).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from ..store.journey_tables import JourneyLatency
from ..store.placeholders import marker
from ..store.upsert import replacing_insert
from .measures import LatencyKey, LatencySummary

LATENCY: Table = JourneyLatency.__table__  # type: ignore[attr-defined]

KEY_COLUMNS = ("flow", "from_stage", "to_stage", "minute")
_VALUE_COLUMNS = ("count", "total", "max", "last", "last_at", "buckets")
_CHUNK = 200  # keys per query: 800 parameters, under SQLite's historical limit of 999
_COLUMNS = ", ".join((*KEY_COLUMNS, *_VALUE_COLUMNS))

Row = tuple[Any, ...]  # one histogram as written: KEY_COLUMNS, then _VALUE_COLUMNS


def merged(conn: Connection, latency: Mapping[LatencyKey, LatencySummary]) -> list[Row]:
    """The rows `latency` turns the stored histograms into (a read only: `write` stores them)."""
    if not latency:
        return []
    stored = _stored(conn, latency)
    rows: list[Row] = []
    for key, new in latency.items():
        found = stored.get(key)
        if found is None:
            count, total, top, last, last_at, buckets = new
        else:
            count, total, top, last, last_at, text = found
            count += new.observations
            total += new.total
            top = max(top, new.top)
            if new.last_at >= last_at:  # observed after what is stored: the later one wins a tie
                last, last_at = new.last, new.last_at
            buckets = tuple(a + b for a, b in zip(json.loads(text), new.buckets, strict=True))
        rows.append((*key, count, total, top, last, last_at, json.dumps(buckets)))
    return rows


def write(conn: Connection, rows: list[Row]) -> None:
    """Store merged rows: new keys inserted, existing ones replaced by their merged values."""
    if not rows:
        return
    conn.exec_driver_sql(replacing_insert("journey_latency", KEY_COLUMNS, _VALUE_COLUMNS, marker(conn)), rows)


def _stored(conn: Connection, latency: Mapping[LatencyKey, LatencySummary]) -> dict[LatencyKey, tuple[Any, ...]]:
    # The keys themselves, a chunk per query: each term is one primary-key lookup (SQLite's
    # multi-index OR, PostgreSQL's bitmap OR). A range of minutes per flow instead would read every
    # histogram the retention keeps (a day of minutes per stage pair) at every fold.
    mark = marker(conn)
    term = "(" + " AND ".join(f"{column} = {mark}" for column in KEY_COLUMNS) + ")"
    keys = list(latency)
    found: dict[LatencyKey, tuple[Any, ...]] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        sql = f"SELECT {_COLUMNS} FROM journey_latency WHERE {' OR '.join([term] * len(chunk))}"
        for flow, start, end, minute, *values in conn.exec_driver_sql(sql, tuple(v for key in chunk for v in key)):
            found[(flow, start, end, int(minute))] = tuple(values)
    return found
