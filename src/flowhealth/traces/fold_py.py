"""One flow's stage events folded into journey rows, in Python: the reference for `_fold.c`.

`group` sorts a fold's events by flow and entity. `fold_flow` takes the journeys a batch touches
as `journeys._load` read them and gives back the rows to insert and update, adding to the batch's
counters and latencies as it goes. The C module does the same with the same objects when it is
built, called the same way (positional arguments only); tests compare the two on random batches.
This one runs without a compiler, or with FLOWHEALTH_NATIVE=0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from . import convention as c
from .measures import (
    CONTRACT,
    CONTRACT_SEPARATOR,
    DUPLICATES,
    INTERVENTIONS,
    MAX_REASON,
    MAX_SPAN_KEYS,
    REJECTIONS,
    RETRIES,
    Counts,
    Folded,
    Latencies,
    LatencySummary,
    minute_of,
)

AT = itemgetter(7)  # StageEvent.at, the sort key of an entity's events


@dataclass(slots=True)
class _State:
    started_at: float
    last_stage: str
    last_at: float
    last_outcome: str
    last_reason: str
    completed_at: float | None
    entity_type: str | None
    stages: dict[str, float]
    spans: list[str]
    new: bool


def group(
    batches: list[Sequence[c.StageEvent]], plans: dict[str, c.FlowPlan], /
) -> tuple[dict[str, dict[str, list[c.StageEvent]]], int]:
    """Events grouped by flow, then entity, in arrival order; and how many belong to no flow of `plans`."""
    grouped: dict[str, dict[str, list[c.StageEvent]]] = {}
    dropped = 0
    for events in batches:
        for ev in events:
            entities = grouped.get(ev.flow)
            if entities is None:
                if ev.flow not in plans:  # a reload removed the flow's traces block
                    dropped += 1
                    continue
                entities = grouped[ev.flow] = {}
            evs = entities.get(ev.entity_id)
            if evs is None:
                entities[ev.entity_id] = [ev]
            else:
                evs.append(ev)
    return grouped, dropped


def fold_flow(
    flow: str,
    entities: dict[str, list[c.StageEvent]],
    rows: list[tuple[Any, ...]],
    pairs_by_stage: dict[str, tuple[tuple[str, str], ...]],
    end_stage: str | None,
    now: float,
    counts: Counts,
    latency: Latencies,
    /,
) -> Folded:
    """(inserts, updates, spans accepted, spans redelivered) of one flow's events, rows in the order of `entities`.

    The flow's latencies go into `latency` as one LatencySummary per (flow, start, end, minute),
    which must not be there yet: a fold folds each flow once.
    """
    fold = _Fold(flow, pairs_by_stage, end_stage, now, counts)
    loaded = {row[0]: row for row in rows}
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    accepted = redelivered = 0
    for entity_id, evs in entities.items():
        if len(evs) > 1:
            evs.sort(key=AT)
        row = loaded.get(entity_id)
        st = _state_of(row) if row is not None else _new_state(evs[0])
        took, again = fold.entity(st, evs)
        accepted, redelivered = accepted + took, redelivered + again
        if took:
            if st.new:
                inserts.append((flow, entity_id, st.entity_type, *_values(st, now)))
            else:
                updates.append((*_values(st, now), flow, entity_id))
    for (start, end, minute), observed in fold.observed.items():
        key = (flow, start, end, minute)
        if key in latency:
            raise ValueError("latencies of this flow were already folded into `latency`")
        latency[key] = LatencySummary.of(observed)
    return inserts, updates, accepted, redelivered


def _new_state(first: c.StageEvent) -> _State:
    # The first event's own values: `entity` takes it as the latest, as for any other.
    return _State(first.at, first.stage, first.at, first.outcome, first.reason, None, first.entity_type, {}, [], True)


def _state_of(row: tuple[Any, ...]) -> _State:
    _, etype, started, stage, last_at, outcome, reason, completed, _, stages, spans = row
    pairs = stages.split()
    return _State(
        started,
        stage,
        last_at,
        outcome,
        reason or "",
        completed,
        etype,
        {pairs[j]: int(pairs[j + 1]) / 1e6 for j in range(0, len(pairs), 2)},
        spans.split(),
        False,
    )


@dataclass(slots=True)
class _Fold:
    """One flow's fold: where its counters and latencies go."""

    flow: str
    pairs_by_stage: dict[str, tuple[tuple[str, str], ...]]
    end_stage: str | None
    now: float
    counts: Counts
    # (seconds, end time) per (start, end, minute), in the order observed: summed when the flow is done.
    observed: dict[tuple[str, str, int], list[tuple[float, float]]] = field(default_factory=dict)

    def entity(self, st: _State, evs: list[c.StageEvent]) -> tuple[int, int]:
        """Apply one journey's events of this fold, in time order; (accepted, redelivered)."""
        flow, counts, pairs_by_stage, end_stage = self.flow, self.counts, self.pairs_by_stage, self.end_stage
        spans, stages = st.spans, st.stages
        started, last_at, completed = st.started_at, st.last_at, st.completed_at
        last: c.StageEvent | None = None
        accepted = redelivered = 0
        for ev in evs:
            key, _, stage, _, _, outcome, reason, at, violations = ev
            if key in spans:
                redelivered += 1  # at-least-once delivery: the same span again changes nothing
                continue
            accepted += 1
            spans.append(key)
            if len(spans) > MAX_SPAN_KEYS:
                del spans[:-MAX_SPAN_KEYS]
            if at < started:
                started = at
            if at >= last_at:
                last_at, last = at, ev
            if violations:
                for path, why in violations:
                    text = f"{why}{CONTRACT_SEPARATOR}{path}"[:MAX_REASON]
                    counts[(flow, CONTRACT, stage, text, minute_of(at))] += 1
            if outcome != c.OK:
                if outcome == c.REJECTED:
                    counts[(flow, REJECTIONS, stage, reason, minute_of(at))] += 1
                    continue
                if outcome == c.RETRIED:
                    counts[(flow, RETRIES, stage, "", minute_of(at))] += 1
                    continue
                if outcome == c.MANUAL:
                    counts[(flow, INTERVENTIONS, stage, "", minute_of(at))] += 1
            if stage in stages:
                counts[(flow, DUPLICATES, stage, "", minute_of(at))] += 1
                continue
            stages[stage] = at
            pairs = pairs_by_stage.get(stage)
            if pairs is not None:
                for start, end in pairs:
                    # Spans of different systems arrive in any order: measure when the second one comes.
                    if end == stage and start in stages:
                        self.observe(start, end, stages[start], at)
                    elif start == stage and end in stages:
                        self.observe(start, end, at, stages[end])
            if stage == end_stage and completed is None:
                completed = self.now
        if accepted:
            st.started_at, st.completed_at = started, completed
            if last is not None:
                st.last_stage, st.last_at, st.last_outcome = last.stage, last_at, last.outcome
                st.last_reason = last.reason
        return accepted, redelivered

    def observe(self, start: str, end: str, t0: float, t1: float) -> None:
        seconds = max(0.0, t1 - t0)  # clocks of different systems drift; never a negative latency
        self.observed.setdefault((start, end, minute_of(t1)), []).append((seconds, t1))


def _values(st: _State, now: float) -> tuple[Any, ...]:
    # Stages as "name microseconds name microseconds", span keys space-separated: both are
    # identifiers without spaces, and this is several times cheaper than JSON on the hot path.
    # Integer microseconds, not repr(float): its shortest-digits conversion cost 0.3 µs a stage.
    return (
        st.started_at,
        st.last_stage,
        st.last_at,
        st.last_outcome,
        st.last_reason or None,
        st.completed_at,
        now,
        " ".join([f"{name} {round(at * 1e6)}" for name, at in st.stages.items()]),
        " ".join(st.spans),
    )
