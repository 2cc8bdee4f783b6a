"""The C fold (`traces/_fold.c`) gives the same journeys, counters and latencies as `fold_py.py`.

Journeys the receiver folds are what trace signals, evidence and redelivery checks read: if the two
folds disagreed, a host with a compiler would alert differently from one without. Random batches
cover what a real stream mixes: redelivered spans, stages out of order, rejections, retries,
manual fixes, duplicates, contract violations, journeys stored by an earlier fold, and journeys
with more spans than a row keeps.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowhealth.traces import fold_py, journeys
from flowhealth.traces.convention import MANUAL, OK, REJECTED, RETRIED, StageEvent
from flowhealth.traces.measures import MAX_SPAN_KEYS

pytestmark = pytest.mark.skipif(
    journeys.NATIVE is None and os.environ.get("FLOWHEALTH_REQUIRE_SERVICES") != "1",
    reason="the C fold is not built here (no compiler when installed)",
)

STAGES = ["placed", "exported", "accepted", "invoiced"]
PAIRS = {
    "placed": (("placed", "exported"), ("placed", "accepted")),
    "exported": (("placed", "exported"), ("exported", "accepted")),
    "accepted": (("exported", "accepted"), ("placed", "accepted")),
}
BASE = 1_764_000_000.0
NOW = BASE + 3_600.5

event = st.builds(
    lambda key, entity, stage, outcome, reason, at, violations: StageEvent(
        f"k{key}", "orders", stage, f"O-{entity}", "order", outcome, reason, BASE + at, violations
    ),
    key=st.integers(0, 90),
    entity=st.integers(0, 6),
    stage=st.sampled_from(STAGES),
    outcome=st.sampled_from([OK, OK, OK, REJECTED, RETRIED, MANUAL]),
    reason=st.sampled_from(["", "invalid sku", "credit limit " * 12]),
    at=st.floats(-120, 600, allow_nan=False).map(lambda s: round(s, 6)),
    violations=st.sampled_from([(), (("$.total", "missing"),), (("$.lines[0].sku", "type " * 40), ("$.id", "x"))]),
)


def stored_row(entity: int, stages: list[str], spans: int, completed: bool, reason: str | None) -> tuple[Any, ...]:
    """A journey as an earlier fold wrote it."""
    times = " ".join(f"{name} {round((BASE + 10 * i) * 1e6)}" for i, name in enumerate(stages))
    keys = " ".join(f"k{n}" for n in range(spans))
    last = stages[-1] if stages else "placed"
    return (
        f"O-{entity}",
        "order",
        BASE - 5,
        last,
        BASE + 5,
        OK,
        reason,
        BASE + 7 if completed else None,
        BASE + 8,
        times,
        keys,
    )


row = st.builds(
    stored_row,
    entity=st.integers(0, 6),
    stages=st.lists(st.sampled_from(STAGES), unique=True, max_size=3),
    spans=st.integers(0, MAX_SPAN_KEYS),
    completed=st.booleans(),
    reason=st.sampled_from([None, "", "late"]),
)


def fold(native: bool, events: list[StageEvent], rows: list[tuple[Any, ...]], end: str | None) -> tuple[Any, ...]:
    assert journeys.NATIVE is not None
    group = journeys.NATIVE.group if native else fold_py.group
    # Half the events in a second request, and one of a flow a reload removed: dropped, counted.
    stray = StageEvent("k-1", "refunds", "placed", "R-1", "refund", OK, "", BASE, ())
    grouped, dropped = group([events[::2], [*events[1::2], stray]], {"orders": object()})
    assert dropped == 1 and list(grouped) == ["orders"]
    entities = grouped["orders"]
    unique = list({r[0]: r for r in rows}.values())
    counts: Any = defaultdict(int)
    latency: Any = {}
    run = journeys.NATIVE.fold_flow if native else fold_py.fold_flow
    result = run("orders", copy.deepcopy(entities), unique, PAIRS, end, NOW, counts, latency)
    return result, dict(counts), latency


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(event, min_size=1, max_size=40),
    rows=st.lists(row, max_size=4),
    end=st.sampled_from(["accepted", "invoiced", None]),
)
def test_the_c_fold_writes_what_the_python_fold_writes(
    events: list[StageEvent], rows: list[tuple[Any, ...]], end: str | None
) -> None:
    assert fold(True, events, rows, end) == fold(False, events, rows, end)


def test_a_journey_keeps_its_newest_span_keys_and_recognises_them_again() -> None:
    events = [StageEvent(f"k{n}", "orders", "placed", "O-1", "order", OK, "", BASE + n, ()) for n in range(80)]
    for native in (True, False):
        (inserts, _, accepted, _), *_ = fold(native, events, [], "accepted")
        assert accepted == 80
        kept = inserts[0][-1].split()
        assert kept == [f"k{n}" for n in range(80 - MAX_SPAN_KEYS, 80)]
        stored = inserts[0][1:]  # the row as the next fold reads it: no flow column
        (_, updates, accepted, redelivered), *_ = fold(native, events[-3:], [stored], "accepted")
        assert (accepted, redelivered, updates) == (0, 3, [])


def test_a_stage_time_comes_back_as_written() -> None:
    at = BASE + 0.1234565  # half a microsecond: Python rounds half to even, so must C
    events = [StageEvent("k1", "orders", "placed", "O-1", "order", OK, "", at, ())]
    written = {fold(native, events, [], None)[0][0][0][-2] for native in (True, False)}
    assert len(written) == 1


@pytest.mark.parametrize(("setting", "in_c"), [("1", True), ("0", False)])
def test_flowhealth_native_chooses_which_fold_runs(setting: str, in_c: bool) -> None:
    code = "from flowhealth.traces import fold_py, journeys; print(journeys._fold_flow is not fold_py.fold_flow)"
    env = {**os.environ, "FLOWHEALTH_NATIVE": setting}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(in_c)


def test_a_flow_folded_twice_into_the_same_latencies_is_refused() -> None:
    # journeys.apply folds each flow once per batch; a second fold of it would have overwritten
    # the first one's latency sums.
    events = [
        StageEvent("k1", "orders", "placed", "O-1", "order", OK, "", BASE, ()),
        StageEvent("k2", "orders", "accepted", "O-1", "order", OK, "", BASE + 5, ()),
    ]
    assert journeys.NATIVE is not None
    for run in (journeys.NATIVE.fold_flow, fold_py.fold_flow):
        latency: Any = {}
        for attempt in range(2):
            entities = {"O-1": list(events)}
            if attempt == 0:
                run("orders", entities, [], PAIRS, "accepted", NOW, defaultdict(int), latency)
                assert [summary.observations for summary in latency.values()] == [1]
            else:
                with pytest.raises(ValueError, match="already folded"):
                    run("orders", entities, [], PAIRS, "accepted", NOW, defaultdict(int), latency)


def test_a_stage_pair_spelled_by_two_string_objects_is_one_latency_key() -> None:
    # Each stage's tuple of pairs with its own copies of the names: the fold must key latencies by
    # the names' values, as a dict does, not by which objects spell them.
    def copy(name: str) -> str:
        return "".join(list(name))

    pairs = {
        "placed": ((copy("placed"), copy("exported")),),
        "exported": ((copy("placed"), copy("exported")),),
    }
    assert pairs["placed"][0][0] is not pairs["exported"][0][0]
    events = [  # O-1 reaches placed first, O-2 exported first: one latency seen from each stage
        StageEvent("k1", "orders", "placed", "O-1", "order", OK, "", BASE, ()),
        StageEvent("k2", "orders", "exported", "O-1", "order", OK, "", BASE + 5, ()),
        StageEvent("k3", "orders", "exported", "O-2", "order", OK, "", BASE + 1, ()),
        StageEvent("k4", "orders", "placed", "O-2", "order", OK, "", BASE + 3, ()),
    ]
    assert journeys.NATIVE is not None
    found = []
    for run in (journeys.NATIVE.fold_flow, fold_py.fold_flow):
        latency: Any = {}
        entities = {"O-1": events[:2], "O-2": events[2:]}
        run("orders", entities, [], pairs, None, NOW, defaultdict(int), latency)
        found.append(latency)
    assert found[0] == found[1]
    # One key, two latencies: O-1's 5 s, and O-2's 0 s (its placed span ends after its exported one).
    assert [(summary.observations, summary.total) for summary in found[0].values()] == [(2, 5.0)]
