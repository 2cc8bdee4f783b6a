"""Alerts that Alertmanager evaluated elsewhere (Prometheus, the Mimir ruler) join flowhealth's incidents.

An alert naming a rule of the model (``rule`` label, or ``alertname`` as the exported rules set
it, with the rule's ``flow``) becomes an alert state like the evaluator's own, marked as owned by
Alertmanager: the evaluator neither steps nor resolves it; it fires when Alertmanager says firing
and resolves when Alertmanager says resolved. The incident manager then runs as after an
evaluation cycle, in the same transaction: grouping, owners, silences, maintenance, escalation,
messages and history are the ones flowhealth's own alerts get.

An alert naming no rule is told to a team and kept in the history (external_unknown.py), never
dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..clock import Clock
from ..export.alertmanager import default_team
from ..model.model import PROBE_FAILING, Model
from ..store.db import transaction
from ..store.tables import AlertEvent, AlertState
from ..store.types import labels_key
from .enums import AlertState as State
from .evaluator import EXTERNAL_REASON, Evaluator, Transition
from .external_unknown import UNKNOWN_RULE, fingerprint_of, keep_unknown, owner_of, severity_of, tell
from .incidents import IncidentManager
from .notices import ExternalAlert

log = logging.getLogger(__name__)

__all__ = ["UNKNOWN_RULE", "AmAlert", "AmStatus", "AmWebhook", "ExternalAlerts", "Received"]
# Labels that say which rule and whom, not which series: they are not part of the series' key.
_IDENTITY_LABELS = {"alertname", "rule", "flow", "signal", "severity", "team"}


class AmStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AmAlert(BaseModel):
    """One alert of Alertmanager's webhook payload."""

    model_config = ConfigDict(extra="ignore")

    status: AmStatus
    labels: dict[str, str] = Field(max_length=64)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    fingerprint: str = Field(default="", max_length=64)
    generatorURL: str = Field(default="", max_length=2000)


class AmWebhook(BaseModel):
    """Alertmanager's webhook payload, version 4."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(pattern=r"^4$")
    status: AmStatus
    receiver: str = Field(default="", max_length=200)
    alerts: list[AmAlert] = Field(max_length=1000)


@dataclass(frozen=True)
class Received:
    """What became of a payload: alerts of known rules joined, unknown ones kept."""

    joined: int
    unknown: int


class ExternalAlerts:
    """Applies Alertmanager's alerts to the alert states, then runs the incident pipeline."""

    def __init__(
        self, model: Model, engine: Engine, clock: Clock, evaluator: Evaluator, incidents: IncidentManager
    ) -> None:
        self.model = model
        self.engine = engine
        self.clock = clock
        self.evaluator = evaluator
        self.incidents = incidents

    @property
    def catch_all_team(self) -> str:
        declared = [t for t, team in sorted(self.model.teams.items()) if team.alertmanager_catch_all]
        return declared[0] if declared else default_team(self.model)

    def rule_of(self, labels: dict[str, str]) -> str | None:
        """The model rule an alert names, or None; its flow label must agree."""
        name = labels.get("rule") or labels.get("alertname") or ""
        flow = labels.get("flow")
        if name == PROBE_FAILING:
            name = f"{PROBE_FAILING}:{flow}/{labels.get('signal')}"
        rules = self.model.all_rules()
        if name not in rules or rules[name].flow != flow:
            return None
        return name

    def receive(self, payload: AmWebhook) -> Received:
        now = self.clock.now()
        joined = unknown = 0
        with self.evaluator.lock, transaction(self.engine) as session:
            self.evaluator.lock_cycles(session)
            transitions: list[Transition] = []
            to_tell: list[ExternalAlert] = []
            for alert in payload.alerts:
                rule_id = self.rule_of(alert.labels)
                if rule_id is None:
                    if (notice := self._keep_unknown(session, alert, now)) is not None:
                        to_tell.append(notice)
                    unknown += 1
                    continue
                joined += 1
                transition = self._apply(session, rule_id, alert, now)
                if transition is not None:
                    transitions.append(transition)
            tell(session, self.model, to_tell, now)
            session.flush()
            self.incidents.after_cycle(session, now, transitions)
        for t in transitions:
            log.info("alert %s %s (from Alertmanager)", t.rule, t.event)
        return Received(joined, unknown)

    def _apply(self, session: Session, rule_id: str, alert: AmAlert, now: datetime) -> Transition | None:
        rule = self.model.rule(rule_id)
        series = {k: v for k, v in alert.labels.items() if k not in _IDENTITY_LABELS and k not in rule.labels}
        labels = labels_key(series)
        state = session.get(AlertState, (rule_id, labels))
        if alert.status == AmStatus.FIRING:
            if state is not None and state.state == State.FIRING:
                return None  # Alertmanager repeats firing alerts every group_interval
            if state is None:
                state = AlertState(rule=rule_id, labels=labels, state=State.INACTIVE, owner="", updated_at=now)
            state.incident += 1
            state.firing_since = state.pending_since = alert.startsAt or now
            state.last_true_at = now
            state.owner = self.model.rule_owner(rule_id)
            state.reason = EXTERNAL_REASON
            event = State.FIRING.value
            state.state = State.FIRING
        else:
            if state is None or state.state != State.FIRING or state.reason != EXTERNAL_REASON:
                return None  # resolved twice, or never seen firing: nothing to change
            state.state = State.INACTIVE
            state.resolved_at, state.resolved_value = now, None
            state.reason = "threshold"  # inactive again: flowhealth's own evaluation owns the series
            event = "resolved"
        state.updated_at = now
        session.add(state)
        session.add(
            AlertEvent(
                rule=rule_id,
                labels=labels,
                flow=rule.flow,
                incident=state.incident,
                event=event,
                at=now,
                detail="from Alertmanager",
            )
        )
        return Transition(rule_id, labels, event, None)

    def _keep_unknown(self, session: Session, alert: AmAlert, now: datetime) -> ExternalAlert | None:
        labels = alert.labels
        notice = ExternalAlert(
            at=now,
            alertname=labels.get("alertname", ""),
            status=alert.status.value,
            severity=severity_of(labels),
            team=owner_of(self.model, labels, self.catch_all_team),
            labels=labels,
            annotations=alert.annotations,
            starts_at=alert.startsAt or now,
            fingerprint=fingerprint_of(labels, alert.fingerprint),
            generator_url=alert.generatorURL,
        )
        return keep_unknown(session, self.model, notice, now)
