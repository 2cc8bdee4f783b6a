"""What a span fold counts and measures, shared by the Python and C folds and the signal readers."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from ..metric_names import LATENCY_BUCKETS

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


class LatencySummary(NamedTuple):
    """The stage-to-stage latencies one fold observed under one key, folded in the order observed.

    What the stored per-minute histogram (journey_latency) and the Prometheus histogram add up,
    instead of a list of every observation: a fold at 20,000 spans/s observes thousands, and
    keeping each as a tuple of two floats, then walking them twice in Python, was a tenth of the
    server's CPU per span (benchmarks/README.md, issue 19).
    """

    observations: int  # (not `count`: tuple has a method of that name)
    total: float  # seconds, summed one at a time in the order observed
    top: float  # the longest, at least 0.0
    last: float  # the one that ended last (of equal end times, the later observed)
    last_at: float  # when that one ended (epoch seconds)
    buckets: tuple[int, ...]  # per LATENCY_BUCKETS bound (the first bound >= seconds), not cumulative

    @classmethod
    def of(cls, observed: Iterable[tuple[float, float]]) -> LatencySummary:
        """The summary of (seconds, end time) pairs, in order: what both folds compute as they go."""
        count, total, top, last, last_at = 0, 0.0, 0.0, 0.0, float("-inf")
        buckets = [0] * len(LATENCY_BUCKETS)
        for seconds, at in observed:
            count += 1
            total += seconds
            if seconds > top:
                top = seconds
            if at >= last_at:
                last, last_at = seconds, at
            buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the last bound is +Inf: always a bucket
        return cls(count, total, top, last, last_at, tuple(buckets))


Latencies = dict[LatencyKey, LatencySummary]
# A flow's fold: rows to insert, rows to update, spans accepted, spans redelivered.
Folded = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int, int]


def minute_of(at: float) -> int:
    return int(at // 60) * 60
