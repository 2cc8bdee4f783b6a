"""The rule evaluator: inactive → pending → firing → resolved, persisted every cycle.

Semantics follow Prometheus where they fit: `for` holds a true condition in pending before it
fires, `keep_firing_for` holds a firing alert after the condition clears, counted from the first
false evaluation (not the last true one) so both resolve at the same evaluation. Where business flows
need more:

* an *unknown* value (probe failed, value too old) is handled by the rule's `no_data` policy:
  `keep_last` (default) holds the state — a broken probe never looks like recovery —, `alerting`
  fires a no-data alert after `no_data_after`, `ok` treats it as clear;
* a series that a *successful* probe no longer reports is gone, and its alert resolves;
* `recovery_threshold` adds hysteresis: a firing alert clears only past it.

What to tell whom is decided afterwards, in the same transaction, by the incident manager.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select as sa_select
from sqlalchemy import text as sa_text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..clock import Clock
from ..evidence import EvidenceFn
from ..metrics import Metrics
from ..model.baseline_rule import BaselineRule
from ..model.model import Model
from ..model.probes import PushProbe
from ..model.schema import AlertRule
from ..store.db import transaction
from ..store.tables import AlertEvent, AlertState, ProbeState, SignalValue
from ..store.types import alert_key
from .baseline_live import baseline_breached
from .enums import PassTrigger
from .timers import SignalKey, next_check

log = logging.getLogger(__name__)

INACTIVE, PENDING, FIRING = "inactive", "pending", "firing"
# An alert state Alertmanager owns (alerting/external.py): the evaluator neither steps nor resolves it.
EXTERNAL_REASON = "alertmanager"
CYCLE_LOCK_KEY = 0x666C6F776576616C  # "floweval": one evaluation cycle at a time across replicas
STALE_AFTER_INTERVALS = 3
DEFAULT_NO_DATA_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Transition:
    """One change of one alert series in one cycle."""

    rule: str
    labels: str
    event: str
    value: float | None


@dataclass(frozen=True)
class Pass:
    """What one evaluation pass changed, and when the rules it evaluated need a look again."""

    transitions: list[Transition]
    # (flow, signal) -> the earliest moment a `for` or `keep_firing_for` of its rules runs out
    wakeups: dict[SignalKey, datetime]


class CycleHook:
    """Runs after the alert states of a cycle are updated, in the same transaction."""

    def after_cycle(self, session: Session, now: datetime, transitions: list[Transition]) -> None:
        """Decide notifications; the default does nothing."""


class Evaluator:
    """Evaluates every rule against the latest signal values; one instance runs at a time."""

    def __init__(
        self,
        model: Model,
        engine: Engine,
        clock: Clock,
        metrics: Metrics,
        hook: CycleHook | None = None,
        evidence: EvidenceFn | None = None,
    ) -> None:
        self._model = model
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        self._hook = hook or CycleHook()
        self.evidence = evidence
        self._staleness: dict[tuple[str, str], timedelta | None] = {}
        # Held by a cycle and by alerts arriving from Alertmanager: one writer of alert states at a time.
        # Reentrant: triggered evaluation holds it while it collects the signals of its pass.
        self.lock = threading.RLock()

    def evaluate(self) -> list[Transition]:
        """Run one cycle over every rule; state changes and their notifications commit together."""
        return self.run_pass().transitions

    def run_pass(
        self, signals: frozenset[SignalKey] | None = None, trigger: PassTrigger = PassTrigger.INTERVAL
    ) -> Pass:
        """Evaluate the rules reading `signals` (None: every rule), then decide notifications.

        A rule's state depends only on its own signal's values and on time, so the rules of
        signals without new samples have nothing to step until their timers run out (`Pass.wakeups`)
        or the interval cycle comes (no-data, staleness).
        """
        started = time.perf_counter()
        now = self._clock.now()
        wakeups: dict[SignalKey, datetime] = {}
        try:
            with self.lock, transaction(self._engine) as session:
                self.lock_cycles(session)
                transitions = self._cycle(session, now, signals, wakeups)
                self._hook.after_cycle(session, now, transitions)
        except Exception:
            self._metrics.evaluation_failures.inc()
            raise
        finally:
            self._metrics.evaluation_duration.observe(time.perf_counter() - started)
        self._metrics.evaluations.inc()
        self._metrics.evaluation_passes.labels(trigger).inc()
        for t in transitions:
            log.info("alert %s %s (value %s)", alert_key(t.rule, t.labels), t.event, t.value)
        return Pass(transitions, wakeups)

    def retire(self, rule_ids: set[str]) -> list[Transition]:
        """Resolve (firing) or clear (pending) the alerts of rules a reload removes, with their notifications.

        Runs on the evaluator of the model that still has the rules, so the resolve message names
        the same owner, channel and incident as the firing one did.
        """
        now = self._clock.now()
        transitions: list[Transition] = []
        with transaction(self._engine) as session:
            for state in session.exec(select(AlertState).where(col(AlertState.rule).in_(sorted(rule_ids)))).all():
                if state.state == FIRING:
                    transitions.append(self._resolve(session, state, None, now))
                elif state.state == PENDING:
                    state.pending_since = None
                    transitions.append(self._move(session, state, INACTIVE, "cleared", None, now))
            self._hook.after_cycle(session, now, transitions)
        return transitions

    def lock_cycles(self, session: Session) -> None:
        """Wait for any other writer of alert states (a cycle, alerts from Alertmanager), on any replica."""
        if self._engine.dialect.name == "postgresql":
            # Replicas: only the leader schedules cycles, but a leader that just lost its lock
            # may still be in one, and Alertmanager's webhook may reach any replica. They queue
            # here, and each reads what the previous committed.
            session.connection().execute(sa_text("SELECT pg_advisory_xact_lock(:key)"), {"key": CYCLE_LOCK_KEY})

    def staleness(self, flow: str, signal: str) -> timedelta | None:
        """How old a value may be before it counts as unknown (None: never)."""
        key = (flow, signal)
        if key not in self._staleness:
            self._staleness[key] = self._staleness_of(flow, signal)
        return self._staleness[key]

    def _staleness_of(self, flow: str, signal: str) -> timedelta | None:
        probe = self._model.signal(flow, signal).probe
        if isinstance(probe, PushProbe):
            return None if probe.expect_every is None else probe.expect_every * 2
        interval: timedelta | None = getattr(probe, "interval", None)
        return None if interval is None else interval * STALE_AFTER_INTERVALS

    def _series(
        self, session: Session, now: datetime, signals: frozenset[SignalKey] | None
    ) -> dict[tuple[str, str], dict[str, float | None]]:
        series: dict[tuple[str, str], dict[str, float | None]] = {}
        horizons: dict[tuple[str, str], timedelta | None] = {}
        table = SignalValue.__table__.c  # type: ignore[attr-defined]
        columns = sa_select(table.flow, table.signal, table.labels, table.value, table.observed_at)
        if signals is not None:
            columns = columns.where(table.flow.in_(sorted({flow for flow, _ in signals})))
        # Plain rows, not ORM objects: this reads every series every cycle.
        for flow, signal, labels, value, observed_at in session.connection().execute(columns):
            observed_at = observed_at.replace(tzinfo=UTC) if observed_at.tzinfo is None else observed_at
            key = (flow, signal)
            if key not in horizons:
                known = flow in self._model.flows and signal in self._model.flows[flow].signals
                horizons[key] = self.staleness(flow, signal) if known else timedelta(-1)
            horizon = horizons[key]
            if horizon == timedelta(-1):
                continue  # a signal no longer in the model
            fresh = horizon is None or now - observed_at <= horizon
            series.setdefault(key, {})[labels] = value if fresh else None
        return series

    def _cycle(
        self, session: Session, now: datetime, signals: frozenset[SignalKey] | None, wakeups: dict[SignalKey, datetime]
    ) -> list[Transition]:
        series = self._series(session, now, signals)
        failures = {(p.flow, p.signal): float(p.consecutive_failures) for p in session.exec(select(ProbeState)).all()}
        states: dict[str, dict[str, AlertState]] = {}
        external: set[tuple[str, str]] = set()
        for s in session.exec(select(AlertState)).all():
            if s.reason == EXTERNAL_REASON:
                external.add((s.rule, s.labels))
                continue
            states.setdefault(s.rule, {})[s.labels] = s
        transitions: list[Transition] = []
        for rule_id, rule in sorted(self._model.all_rules().items()):
            key = (rule.flow, rule.signal)
            if signals is not None and key not in signals:
                continue
            if self._model.is_builtin(rule_id):
                seen = failures.get((rule.flow, rule.signal))
                values: dict[str, float | None] = {} if seen is None else {"{}": seen}
            else:
                values = series.get((rule.flow, rule.signal), {})
            known = states.get(rule_id, {})
            for labels in sorted(set(values) | set(known)):
                if (rule_id, labels) in external:
                    continue  # the same series, as Alertmanager reports it: it decides
                state = known.get(labels)
                transition = self._step(
                    session, rule_id, rule, labels, state, labels in values, values.get(labels), now
                )
                if transition is not None:
                    transitions.append(transition)
                went_pending = transition is not None and transition.event == "pending"
                due = next_check(rule, state, now, went_pending=went_pending)
                if due is not None and (key not in wakeups or due < wakeups[key]):
                    wakeups[key] = due
        return transitions

    def _no_data_after(self, rule: AlertRule) -> timedelta:
        if rule.no_data_after is not None:
            return rule.no_data_after
        return self.staleness(rule.flow, rule.signal) or DEFAULT_NO_DATA_AFTER

    def _step(
        self,
        session: Session,
        rule_id: str,
        rule: AlertRule,
        labels: str,
        state: AlertState | None,
        present: bool,
        value: float | None,
        now: datetime,
    ) -> Transition | None:
        current = state.state if state else INACTIVE
        if present and value is None:
            return self._unknown(session, rule_id, rule, labels, state, now)
        if state is not None and state.unknown_since is not None:
            state.unknown_since = None
            session.add(state)
        condition = (
            present and value is not None and self._breached(session, rule_id, rule, labels, current, value, now)
        )
        if state is None:
            if not condition:
                return None
            state = AlertState(
                rule=rule_id, labels=labels, state=INACTIVE, owner=self._model.rule_owner(rule_id), updated_at=now
            )
        if condition:
            return self._holds(session, rule, state, current, value, now)
        if current == PENDING:
            state.pending_since = None
            return self._move(session, state, INACTIVE, "cleared", value, now)
        if current == FIRING:
            if state.reason != "no_data" and self._keeps_firing(session, state, rule, now):
                return None
            return self._resolve(session, state, value if present else None, now)
        return None

    def _breached(
        self, session: Session, rule_id: str, rule: AlertRule, labels: str, current: str, value: float, now: datetime
    ) -> bool:
        if isinstance(rule, BaselineRule):  # the threshold is this time of week's expected band
            return baseline_breached(session, self._model, rule, labels, value, now)
        direction, threshold = self._model.rule_threshold(rule_id)
        if current == FIRING and rule.recovery_threshold is not None:
            threshold = rule.recovery_threshold  # hysteresis: firing alerts clear only past this
        return value > threshold if direction == "above" else value < threshold

    def _holds(
        self, session: Session, rule: AlertRule, state: AlertState, current: str, value: float | None, now: datetime
    ) -> Transition | None:
        """The condition holds this cycle: pending, firing, or still firing."""
        state.last_true_at = now
        state.last_value = value
        if current == FIRING and state.reason == "no_data":
            state.reason = "threshold"  # data is back and still bad: the same alert, now on its value
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

    @staticmethod
    def _keeps_firing(session: Session, state: AlertState, rule: AlertRule, now: datetime) -> bool:
        """`keep_firing_for` counted from the first false evaluation, as Prometheus counts it.

        The first false evaluation is kept in `updated_at`: while firing, a true evaluation sets
        both it and `last_true_at`, so `updated_at > last_true_at` means "false since updated_at".
        """
        if rule.keep_firing_for <= timedelta(0):
            return False
        last_true = state.last_true_at or state.updated_at
        if state.updated_at <= last_true:
            state.updated_at = now
            session.add(state)
        return now - state.updated_at < rule.keep_firing_for

    def _unknown(
        self, session: Session, rule_id: str, rule: AlertRule, labels: str, state: AlertState | None, now: datetime
    ) -> Transition | None:
        if rule.no_data != "ok" and state is not None and state.state == FIRING:
            # A held alert counts as still true, so keep_firing_for restarts once data is back
            # (as the exported rule's hold term does in Prometheus).
            state.last_true_at = state.updated_at = now
            session.add(state)
        if rule.no_data == "keep_last":
            return None
        if state is None:
            state = AlertState(
                rule=rule_id, labels=labels, state=INACTIVE, owner=self._model.rule_owner(rule_id), updated_at=now
            )
        if state.unknown_since is None:
            state.unknown_since = now
            session.add(state)
        if rule.no_data == "ok":
            if state.state == PENDING:
                state.pending_since = None
                return self._move(session, state, INACTIVE, "cleared", None, now)
            if state.state == FIRING:
                return self._resolve(session, state, None, now)
            return None
        # no_data == "alerting"
        if state.state != FIRING and now - state.unknown_since >= self._no_data_after(rule):
            state.reason = "no_data"
            state.pending_since = state.unknown_since
            return self._fire(session, state, None, now)
        return None

    def _move(
        self, session: Session, state: AlertState, new: str, event: str, value: float | None, now: datetime
    ) -> Transition:
        state.state = new
        state.updated_at = now
        session.add(state)
        flow = self._model.rule(state.rule).flow
        detail = "no data" if state.reason == "no_data" and event == "firing" else None
        session.add(
            AlertEvent(
                rule=state.rule,
                labels=state.labels,
                flow=flow,
                incident=state.incident,
                event=event,
                at=now,
                value=value,
                detail=detail,
            )
        )
        return Transition(state.rule, state.labels, event, value)

    def _fire(self, session: Session, state: AlertState, value: float | None, now: datetime) -> Transition:
        state.incident += 1
        state.firing_since = now
        state.owner = self._model.rule_owner(state.rule)
        if state.reason != "no_data":
            state.reason = "threshold"
        return self._move(session, state, FIRING, "firing", value, now)

    def _resolve(self, session: Session, state: AlertState, value: float | None, now: datetime) -> Transition:
        transition = self._move(session, state, INACTIVE, "resolved", value, now)
        state.reason = "threshold"
        state.resolved_at, state.resolved_value = now, value
        return transition
