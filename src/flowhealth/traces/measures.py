"""What a span fold counts and measures, shared by the Python and C folds and the signal readers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

MAX_SPAN_KEYS = 64  # per journey; a runaway entity must not grow its row without bound
MAX_REASON = 128  # characters of journey_count.reason

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

CountKey = tuple[str, str, str, str, int]  # flow, measure, stage, reason, minute
Counts = defaultdict[CountKey, int]
LatencyKey = tuple[str, str, str, int]  # flow, from stage, to stage, minute (epoch seconds)
# (seconds, end time) observed per key, in the order observed: the stored per-minute histograms.
Latencies = defaultdict[LatencyKey, list[tuple[float, float]]]
# Seconds observed per (flow, from stage, to stage), in the order observed: the Prometheus histogram.
StageSeconds = defaultdict[tuple[str, str, str], list[float]]
# A flow's fold: rows to insert, rows to update, spans accepted, spans redelivered.
Folded = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int, int]


def minute_of(at: float) -> int:
    return int(at // 60) * 60
