"""Latency histograms of many keys at once: read, merged and written back on each state backend."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.engine import Engine

from flowhealth.metric_names import LATENCY_BUCKETS
from flowhealth.traces import latency_rows
from flowhealth.traces.measures import LatencySummary


def test_histograms_of_hundreds_of_keys_merge_with_what_is_stored(state_engine: Engine) -> None:
    # More keys than one query reads (chunks of 200), across flows, stage pairs and minutes.
    keys = [(f"flow-{n % 30:02d}", "placed", "accepted" if n % 2 else "exported", 60 * n) for n in range(450)]
    first = {key: LatencySummary.of([(1.5, key[3] + 1.0)]) for key in keys}
    later = {key: LatencySummary.of([(0.2, key[3] + 2.0), (40.0, key[3] + 0.5)]) for key in keys[::3]}
    for observed in (first, later):
        with state_engine.begin() as conn:
            latency_rows.write(conn, latency_rows.merged(conn, observed))

    with state_engine.connect() as conn:
        rows = {
            (flow, start, end, int(minute)): (count, total, top, last, json.loads(buckets))
            for flow, start, end, minute, count, total, top, last, buckets in conn.execute(
                text("SELECT flow, from_stage, to_stage, minute, count, total, max, last, buckets FROM journey_latency")
            )
        }
    assert len(rows) == 450
    merged_key, single_key = keys[3], keys[4]
    count, total, top, last, buckets = rows[merged_key]
    # The latest observation by end time wins `last` (0.2 s ended after 1.5 s and 40 s did).
    assert (count, total, top, last) == (3, 41.7, 40.0, 0.2)
    assert sum(buckets) == 3 and len(buckets) == len(LATENCY_BUCKETS)
    assert rows[single_key][:4] == (1, 1.5, 1.5, 1.5)
