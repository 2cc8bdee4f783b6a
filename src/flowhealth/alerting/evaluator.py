"""The rule evaluator: inactive → pending → firing → resolved, persisted every cycle.

Semantics follow Prometheus where they fit: `for` holds a true condition in pending before it
fires, `keep_firing_for` holds a firing alert after the condition clears. Two deliberate
differences, because these are business flows:

* an *unknown* value (probe failed, value too old) holds the alert where it is; a firing alert
  never resolves because its probe broke (the probe-failing signal covers that case);
* a series that a *successful* probe no longer reports is gone, and its alert resolves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..clock import Clock
from ..metrics import Metrics
from ..model.model import Model
from ..model.probes import PushProbe, TraceProbe
from ..store.db import transaction
from ..store.outbox import enqueue
from ..store.tables import AlertEvent, AlertState, SignalValue
from ..store.types import alert_key, labels_of
from .payload import Links, build_payload

log = logging.getLogger(__name__)

INACTIVE, PENDING, FIRING = "inactive", "pending", "firing"
STALE_AFTER_INTERVALS = 3

EvidenceFn = Callable[[str, datetime], dict[str, Any] | None]


@dataclass(frozen=True)
class Transition:
    """One change of one alert series in one cycle."""

    rule: str
    labels: str
    event: str
    value: float | None
    incident: int


class Evaluator:
    """Evaluates every rule against the latest signal values; one instance runs at a time."""

    def __init__(
        self,
        model: Model,
        engine: Engine,
        clock: Clock,
        metrics: Metrics,
        links: Links,
        evidence: EvidenceFn | None = None,
    ) -> None:
        self._model = model
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        self._links = links
        self._evidence = evidence

    def evaluate(self) -> list[Transition]:
        """Run one cycle; state changes and their notifications commit together."""
        started = time.perf_counter()
        now = self._clock.now()
        try:
            with transaction(self._engine) as session:
                transitions = self._cycle(session, now)
        except Exception:
            self._metrics.evaluation_failures.inc()
            raise
        finally:
            self._metrics.evaluation_duration.observe(time.perf_counter() - started)
        self._metrics.evaluations.inc()
        for t in transitions:
            log.info("alert %s %s (value %s)", alert_key(t.rule, t.labels), t.event, t.value)
        return transitions

    def _staleness(self, flow: str, signal: str) -> timedelta | None:
        probe = self._model.signal(flow, signal).probe
        if isinstance(probe, PushProbe):
            return None if probe.expect_every is None else probe.expect_every * 2
        interval: timedelta = probe.interval
        return interval * STALE_AFTER_INTERVALS

    def _cycle(self, session: Session, now: datetime) -> list[Transition]:
        series: dict[tuple[str, str], dict[str, float | None]] = {}
        for row in session.exec(select(SignalValue)).all():
            if row.flow not in self._model.flows or row.signal not in self._model.flows[row.flow].signals:
                continue
            horizon = self._staleness(row.flow, row.signal)
            fresh = horizon is None or now - row.observed_at <= horizon
            series.setdefault((row.flow, row.signal), {})[row.labels] = row.value if fresh else None
        states = {(s.rule, s.labels): s for s in session.exec(select(AlertState)).all()}
        transitions: list[Transition] = []
        for rule_id, rule in sorted(self._model.rules.items()):
            values = series.get((rule.flow, rule.signal), {})
            keys = set(values) | {labels for (r, labels) in states if r == rule_id}
            for labels in sorted(keys):
                state = states.get((rule_id, labels))
                present = labels in values
                transition = self._step(session, rule_id, labels, state, present, values.get(labels), now)
                if transition is not None:
                    transitions.append(transition)
        return transitions

    def _step(
        self,
        session: Session,
        rule_id: str,
        labels: str,
        state: AlertState | None,
        present: bool,
        value: float | None,
        now: datetime,
    ) -> Transition | None:
        rule = self._model.rules[rule_id]
        current = state.state if state else INACTIVE
        if present and value is None:
            return None  # unknown: hold whatever state the alert is in
        direction, threshold = self._model.rule_threshold(rule_id)
        condition = present and value is not None and (value > threshold if direction == "above" else value < threshold)
        if state is None:
            if not condition:
                return None
            state = AlertState(
                rule=rule_id,
                labels=labels,
                state=INACTIVE,
                owner=self._model.rule_owner(rule_id),
                updated_at=now,
            )
        if condition:
            state.last_true_at = now
            state.last_value = value
            if current == INACTIVE:
                state.pending_since = now
                if rule.for_ > timedelta(0):
                    return self._move(session, state, PENDING, "pending", value, now)
                return self._fire(session, state, value, now)
            if current == PENDING:
                assert state.pending_since is not None
                if now - state.pending_since >= rule.for_:
                    return self._fire(session, state, value, now)
            state.updated_at = now
            session.add(state)
            return None
        if current == PENDING:
            state.pending_since = None
            return self._move(session, state, INACTIVE, "cleared", value, now)
        if current == FIRING:
            last_true = state.last_true_at or now
            if now - last_true < rule.keep_firing_for:
                return None
            return self._resolve(session, state, value if present else None, now)
        return None

    def _move(
        self,
        session: Session,
        state: AlertState,
        new: str,
        event: str,
        value: float | None,
        now: datetime,
    ) -> Transition:
        state.state = new
        state.updated_at = now
        session.add(state)
        flow = self._model.rules[state.rule].flow
        session.add(
            AlertEvent(
                rule=state.rule,
                labels=state.labels,
                flow=flow,
                incident=state.incident,
                event=event,
                at=now,
                value=value,
            )
        )
        return Transition(state.rule, state.labels, event, value, state.incident)

    def _fire(self, session: Session, state: AlertState, value: float | None, now: datetime) -> Transition:
        state.incident += 1
        state.firing_since = now
        state.owner = self._model.rule_owner(state.rule)
        transition = self._move(session, state, FIRING, "firing", value, now)
        rule = self._model.rules[state.rule]
        # Trace signals bring their own evidence: the journeys (e.g. order ids) behind the value.
        traced = isinstance(self._model.signal(rule.flow, rule.signal).probe, TraceProbe)
        evidence = self._evidence(state.rule, now) if self._evidence and (rule.evidence or traced) else None
        self._notify(session, state, "firing", value, state.pending_since or now, now, evidence)
        return transition

    def _resolve(self, session: Session, state: AlertState, value: float | None, now: datetime) -> Transition:
        since = state.firing_since or now
        transition = self._move(session, state, INACTIVE, "resolved", value, now)
        self._notify(session, state, "resolved", value, since, now, None)
        state.pending_since = state.firing_since = None
        return transition

    def _notify(
        self,
        session: Session,
        state: AlertState,
        kind: str,
        value: float | None,
        since: datetime,
        now: datetime,
        evidence: dict[str, Any] | None,
    ) -> None:
        key = alert_key(state.rule, state.labels)
        thread_key = f"{key}#{state.incident}"
        team = self._model.teams[state.owner]
        payload = build_payload(
            self._model,
            self._links,
            rule_id=state.rule,
            labels=labels_of(state.labels),
            kind=kind,
            value=value,
            since=since,
            now=now,
            incident=state.incident,
            owner=state.owner,
            evidence=evidence,
            summary_value=state.last_value,
        )
        enqueue(
            session,
            dedup_key=f"{thread_key}:{kind}",
            thread_key=thread_key,
            kind=kind,
            team=state.owner,
            channel=team.slack_channel,
            payload=payload,
            now=now,
        )
