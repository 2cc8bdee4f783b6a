"""The weekly hypercare review: figures per flow and overall for a period, beside the period before."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..alerting.silences import identity, matchers_of
from ..model.model import Model
from ..store.tables import AlertState, Incident, Silence
from ..web.timeline import Entry, incident_timeline
from .history import History, IncidentFacts, Outcome, flapping, load_history
from .mapping_changes import changes_section, review_changes
from .readiness import FlowReadiness, check_readiness
from .review_channels import channels_section
from .section import Section

OVERALL = "*"
Direction = Literal["better", "worse", "same", "more", "fewer"]
Better = Literal["lower", "higher", "neither"]  # which way a figure should move; silences are neither
# Periods up to two days are charted by the hour, longer ones by the day.
HOURLY_UP_TO = timedelta(days=2)


@dataclass
class Figures:
    """The review's numbers for one flow (or all flows) in one period."""

    incidents: int = 0
    open_incidents: int = 0
    tta_median: float | None = None
    tta_worst: float | None = None
    ttr_median: float | None = None
    ttr_worst: float | None = None
    unacknowledged: int = 0
    staleness_breaches: int = 0
    worst_staleness: float | None = None
    interventions: int = 0
    interventions_by_reason: dict[str, int] = field(default_factory=dict)
    interventions_by_actor: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    # Peaks over the period: mismatches that happened and were cleared before the end still count.
    mismatches: dict[str, float] = field(default_factory=dict)  # currency -> records at worst
    mismatch_amount: dict[str, float] = field(default_factory=dict)  # currency -> amount at worst
    mismatches_open: dict[str, float] = field(default_factory=dict)  # currency -> records at period end
    mismatch_amount_open: dict[str, float] = field(default_factory=dict)  # currency -> amount at period end
    noisy_incidents: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # Outcome value -> incidents that ended so
    flapping: dict[str, int] = field(default_factory=dict)  # "rule{labels}" -> firings
    silences: int = 0
    incidents_over_time: list[int] = field(default_factory=list)  # a count per hour or day (Review.bucket)
    interventions_over_time: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """One headline figure against the period before, judged by which way that figure should move."""

    name: str
    current: float | None
    previous: float | None
    direction: Direction | None  # None: nothing to compare
    better: Better = "lower"


@dataclass
class Review:
    """The whole report: both periods, per flow and overall, and the open ownership questions."""

    start: datetime
    end: datetime
    flows: dict[str, Figures]
    previous: dict[str, Figures]
    readiness: list[FlowReadiness]
    history: History
    # Each incident of the period: its timeline as far as the end of the period.
    timelines: dict[int, list[Entry]] = field(default_factory=dict)
    # Added by other parts of flowhealth (e.g. mapping changes); rendered after the built-in sections.
    sections: list[Section] = field(default_factory=list)

    @property
    def bucket(self) -> timedelta:
        return bucket_of(self.end - self.start)

    @property
    def overall(self) -> Figures:
        return self.flows[OVERALL]

    def changes(self, flow: str = OVERALL) -> list[Change]:
        return compare(self.flows[flow], self.previous[flow])


def _median_worst(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.median(values), max(values)) if values else (None, None)


def bucket_of(length: timedelta) -> timedelta:
    return timedelta(hours=1) if length <= HOURLY_UP_TO else timedelta(days=1)


def _over_time(history: History, moments: list[datetime]) -> list[int]:
    """A count per hour (short periods) or per day, for charts drawn as lines."""
    bucket = bucket_of(history.end - history.start)
    out = [0] * max(1, math.ceil((history.end - history.start) / bucket))
    for moment in moments:
        out[min(len(out) - 1, int((moment - history.start) / bucket))] += 1
    return out


def _incident_figures(f: Figures, incidents: list[IncidentFacts], history: History) -> None:
    f.incidents = len(incidents)
    f.open_incidents = sum(1 for i in incidents if i.resolved_at is None)
    f.unacknowledged = sum(1 for i in incidents if i.acked_at is None)
    f.tta_median, f.tta_worst = _median_worst([i.tta for i in incidents if i.tta is not None])
    f.ttr_median, f.ttr_worst = _median_worst([i.ttr for i in incidents if i.ttr is not None])
    f.noisy_incidents = sum(1 for i in incidents if i.noise)
    f.outcomes = {o.value: n for o in Outcome if (n := sum(1 for i in incidents if i.outcome is o))}
    f.incidents_over_time = _over_time(history, [i.opened_at for i in incidents])


def _per_currency(
    history: History, flows: set[str], signals: set[tuple[str, str]], *, peak: bool = True
) -> dict[str, float]:
    """Sum each signal's peaks (or last values) per currency, then take the largest signal per flow and currency.

    Flows often measure the same mismatches twice (a SQL count and a keyed reconciliation), so
    adding signals together would double-count.
    """
    per_signal: dict[tuple[str, str], dict[str, float]] = {}
    for s in history.series:
        value = s.peak if peak else s.last
        if s.flow in flows and (s.flow, s.signal) in signals and value is not None:
            sums = per_signal.setdefault((s.flow, s.signal), {})
            currency = s.labels.get("currency", "")
            sums[currency] = sums.get(currency, 0.0) + value
    per_flow: dict[tuple[str, str], float] = {}
    for (flow, _), counts in per_signal.items():
        for currency, value in counts.items():
            per_flow[(flow, currency)] = max(per_flow.get((flow, currency), 0.0), value)
    out: dict[str, float] = {}
    for (_, currency), value in per_flow.items():
        out[currency] = out.get(currency, 0.0) + value
    return {c: v for c, v in sorted(out.items()) if v}


def figures(model: Model, history: History, flows: set[str]) -> Figures:
    """The figures of the given flows in one period."""
    f = Figures()
    _incident_figures(
        f, [i for i in history.incidents if i.flow in flows or (i.flow is None and len(flows) > 1)], history
    )
    time_rules = {
        rid
        for rid, r in model.all_rules().items()
        if r.flow in model.flows and model.signal(r.flow, r.signal).kind.is_time
    }
    f.staleness_breaches = sum(1 for e in history.firings if e.flow in flows and e.rule in time_rules)
    kinds = {(ref.flow_id, ref.signal_id): ref.signal.kind.value for ref in model.signals()}
    stale = [
        s.peak for s in history.series if s.flow in flows and kinds.get((s.flow, s.signal)) in ("delay", "staleness")
    ]
    f.worst_staleness = max((p for p in stale if p is not None), default=None)
    fixes = [i for i in history.interventions if i.flow in flows]
    f.interventions = len(fixes)
    f.interventions_by_reason = dict(Counter(i.reason for i in fixes).most_common())
    f.interventions_by_actor = dict(Counter(i.actor or "unknown" for i in fixes).most_common())
    f.interventions_over_time = _over_time(history, [i.performed_at for i in fixes])
    # Rejection signals count over their own window (e.g. 24h): the peak is what the week saw at worst.
    for flow in flows:
        peaks: dict[str, float] = {}
        for s in history.series:
            if s.flow == flow and kinds.get((s.flow, s.signal)) == "rejections" and s.peak is not None:
                peaks[s.signal] = peaks.get(s.signal, 0.0) + s.peak
        f.rejected += int(max(peaks.values(), default=0.0))
    of_kind = {k: {key for key, v in kinds.items() if v == k} for k in ("mismatches", "mismatch_amount")}
    f.mismatches = _per_currency(history, flows, of_kind["mismatches"])
    f.mismatch_amount = _per_currency(history, flows, of_kind["mismatch_amount"])
    f.mismatches_open = _per_currency(history, flows, of_kind["mismatches"], peak=False)
    f.mismatch_amount_open = _per_currency(history, flows, of_kind["mismatch_amount"], peak=False)
    f.flapping = {
        f"{rule}{'' if labels == '{}' else labels}": n
        for (flow, rule, labels), n in sorted(flapping(history.firings).items())
        if flow in flows
    }
    f.silences = sum(1 for s in history.silences if _silence_flows(model, s) & flows)
    return f


def _silence_flows(model: Model, silence: Silence) -> set[str]:
    """Flows whose alerts a silence mutes, by the same matching the alerting layer applies."""
    matchers = matchers_of(silence)
    return {
        model.rule(rule_id).flow
        for rule_id in model.all_rules()
        if identity(model, rule_id, model.rule_owner(rule_id)).matched_by(matchers)
    }


def _all(model: Model, history: History) -> dict[str, Figures]:
    out = {flow: figures(model, history, {flow}) for flow in sorted(model.flows)}
    out[OVERALL] = figures(model, history, set(model.flows))
    return out


def build_review(model: Model, engine: Engine, end: datetime, length: timedelta) -> Review:
    """The review of [end - length, end) and of the period of the same length before it."""
    start = end - length
    history = load_history(engine, model, start, end)
    before = load_history(engine, model, start - length, start)
    review = Review(start, end, _all(model, history), _all(model, before), check_readiness(model, engine), history)
    review.timelines = _timelines(engine, model, history)
    review.sections.append(changes_section(review_changes(engine, start, end, history.incidents)))
    review.sections.append(channels_section(engine, model, start, end, history.incidents))
    return review


def _timelines(engine: Engine, model: Model, history: History) -> dict[int, list[Entry]]:
    with Session(engine) as session:
        states = list(session.exec(select(AlertState)).all())
        out = {}
        for facts in history.incidents:
            incident = session.get(Incident, facts.id)
            if incident is not None:
                # Seen from the end of the period (its last instant belongs to the next one), up to the resolve.
                until = facts.resolved_at or history.end - timedelta(microseconds=1)
                out[facts.id] = incident_timeline(model, session, incident, until, states)
    return out


def _total(values: dict[str, float]) -> float:
    return sum(values.values())


def _direction(current: float, previous: float, better: Better) -> Direction:
    if current == previous:
        return "same"
    if better == "neither":
        # A silence is a decision, not a failure: more of them is neither better nor worse.
        return "more" if current > previous else "fewer"
    return "better" if (current < previous) == (better == "lower") else "worse"


def compare(now: Figures, before: Figures) -> list[Change]:
    """Headline figures with the direction they moved, judged per figure."""
    pairs: list[tuple[str, float | None, float | None, Better]] = [
        ("Incidents", now.incidents, before.incidents, "lower"),
        ("Median time to acknowledge", now.tta_median, before.tta_median, "lower"),
        ("Median time to recover", now.ttr_median, before.ttr_median, "lower"),
        ("Staleness breaches", now.staleness_breaches, before.staleness_breaches, "lower"),
        ("Manual interventions", now.interventions, before.interventions, "lower"),
        ("Rejected payloads (peak)", now.rejected, before.rejected, "lower"),
        ("Settlement mismatches (peak)", _total(now.mismatches), _total(before.mismatches), "lower"),
        ("Noisy incidents", now.noisy_incidents, before.noisy_incidents, "lower"),
        ("Flapping alerts", len(now.flapping), len(before.flapping), "lower"),
        ("Silences", now.silences, before.silences, "neither"),
    ]
    out = []
    for name, current, previous, better in pairs:
        direction = None if current is None or previous is None else _direction(current, previous, better)
        out.append(Change(name, current, previous, direction, better))
    return out
