"""The evaluator with an injected clock: for, keep_firing_for, resolve, restarts, unknown values."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.payload import Links
from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, mark_unknown, record_readings
from flowhealth.store.tables import AlertEvent, AlertState, OutboxMessage
from tests.support.models import orders_flow, write_model

RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    for: 5m
    keep_firing_for: 2m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
"""
LINKS = Links("http://flowhealth.test", "http://grafana.test")


@pytest.fixture
def model(tmp_path: Path) -> Model:
    return write_model(tmp_path / "m", orders_flow("sqlite://", "SELECT 1"), RULES)


def evaluator(model: Model, engine: Engine, clock: FakeClock) -> Evaluator:
    return Evaluator(model, engine, clock, Metrics(CollectorRegistry()), IncidentManager(model, LINKS))


def observe(engine: Engine, clock: FakeClock, value: float | None, labels: dict[str, str] | None = None) -> None:
    with transaction(engine) as session:
        if value is None:
            mark_unknown(session, "orders", "delay", clock.now(), "sql")
        else:
            record_readings(session, "orders", "delay", [Reading(value, labels or {})], clock.now(), "sql")


def outbox(engine: Engine) -> list[tuple[str, dict]]:
    """(kind, the alert as the message shows it) for every queued message about an incident."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    out = []
    for row in rows:
        view = json.loads(row.payload)["view"]
        kind = "resolved" if view["status"] == "resolved" else "firing"
        out.append(
            (
                kind if row.kind == "open" or view["status"] == "resolved" else row.kind,
                {**view["alerts"][0], "incident": view["incident"]},
            )
        )
    return out


def state_of(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.get(AlertState, ("orders-late", "{}"))
    return row.state if row else "inactive"


def step(ev: Evaluator, engine: Engine, clock: FakeClock, value: float | None, seconds: float = 30) -> list[str]:
    clock.advance(seconds)
    observe(engine, clock, value)
    return [t.event for t in ev.evaluate()]


def test_pending_for_the_for_duration_then_firing_once(model: Model, state_engine: Engine, clock: FakeClock) -> None:
    ev = evaluator(model, state_engine, clock)
    assert step(ev, state_engine, clock, 1200) == ["pending"]
    for _ in range(9):  # 4.5 minutes more: still pending
        assert step(ev, state_engine, clock, 1230) == []
    assert state_of(state_engine) == "pending"
    assert step(ev, state_engine, clock, 1500) == ["firing"]
    assert step(ev, state_engine, clock, 1530) == []
    [(kind, payload)] = outbox(state_engine)
    assert kind == "firing"
    assert payload["value"] == 1500
    assert payload["summary"] == "Oldest order waits 25m"
    assert payload["value_text"] == "25m" and payload["threshold_text"] == "15m"
    assert payload["owner"] == {
        "team": "shop-team",
        "name": "shop-team",
        "channel": "#shop-alerts",
        "oncall": "@shop-oncall",
    }
    assert payload["runbook"]["url"] == "http://flowhealth.test/runbooks/orders-late"


def test_condition_clearing_while_pending_sends_nothing(model: Model, state_engine: Engine, clock: FakeClock) -> None:
    ev = evaluator(model, state_engine, clock)
    assert step(ev, state_engine, clock, 1200) == ["pending"]
    assert step(ev, state_engine, clock, 100) == ["cleared"]
    assert state_of(state_engine) == "inactive"
    assert outbox(state_engine) == []


def test_keep_firing_for_holds_then_resolves_with_the_value_at_resolve(
    model: Model, state_engine: Engine, clock: FakeClock
) -> None:
    ev = evaluator(model, state_engine, clock)
    step(ev, state_engine, clock, 1200, seconds=0)
    clock.advance(timedelta(minutes=5))
    observe(state_engine, clock, 1500)
    assert [t.event for t in ev.evaluate()] == ["firing"]
    # keep_firing_for (2m) counts from the first false evaluation, as in Prometheus: that one and
    # the next three (90 s after it) keep firing; the one 2m after it resolves.
    for _ in range(4):
        assert step(ev, state_engine, clock, 40) == []
    assert state_of(state_engine) == "firing"
    assert step(ev, state_engine, clock, 35) == ["resolved"]
    kinds = [(kind, p["value"]) for kind, p in outbox(state_engine)]
    assert kinds == [("firing", 1500), ("resolved", 35)]
    resolved = outbox(state_engine)[1][1]
    assert resolved["summary"] == "Oldest order waits 25m"  # the summary it fired with
    assert resolved["duration_text"] == "2m 30s"  # as `alerts` and Prometheus spell it


def test_restart_in_the_middle_of_pending_keeps_the_clock_running(
    model: Model, state_engine: Engine, clock: FakeClock
) -> None:
    first = evaluator(model, state_engine, clock)
    assert step(first, state_engine, clock, 1200) == ["pending"]
    step(first, state_engine, clock, 1300, seconds=120)
    # The process dies; a new one starts on the same database.
    second = evaluator(model, state_engine, clock)
    assert step(second, state_engine, clock, 1400, seconds=120) == []
    assert step(second, state_engine, clock, 1500, seconds=60) == ["firing"]
    assert [k for k, _ in outbox(state_engine)] == ["firing"]


def test_restart_while_firing_neither_forgets_nor_notifies_twice(
    model: Model, state_engine: Engine, clock: FakeClock
) -> None:
    first = evaluator(model, state_engine, clock)
    step(first, state_engine, clock, 1200)
    assert step(first, state_engine, clock, 1500, seconds=300) == ["firing"]
    second = evaluator(model, state_engine, clock)
    for _ in range(5):
        assert step(second, state_engine, clock, 1600) == []
    assert state_of(state_engine) == "firing"
    assert step(second, state_engine, clock, 10, seconds=30) == []
    assert step(second, state_engine, clock, 10, seconds=120) == ["resolved"]
    assert [k for k, _ in outbox(state_engine)] == ["firing", "resolved"]
    with Session(state_engine) as session:
        events = [e.event for e in session.exec(select(AlertEvent).order_by(col(AlertEvent.id))).all()]
    assert events == ["pending", "firing", "resolved"]


def test_unknown_value_holds_a_firing_alert(model: Model, state_engine: Engine, clock: FakeClock) -> None:
    ev = evaluator(model, state_engine, clock)
    step(ev, state_engine, clock, 1200)
    step(ev, state_engine, clock, 1500, seconds=300)
    for _ in range(10):  # the probe fails for five minutes: the alert must not resolve
        assert step(ev, state_engine, clock, None) == []
    assert state_of(state_engine) == "firing"


def test_a_value_older_than_three_intervals_counts_as_unknown(
    model: Model, state_engine: Engine, clock: FakeClock
) -> None:
    ev = evaluator(model, state_engine, clock)
    step(ev, state_engine, clock, 1200)
    step(ev, state_engine, clock, 1500, seconds=300)
    clock.advance(timedelta(minutes=10))  # nothing observed since: the last value (1500) is stale
    assert [t.event for t in ev.evaluate()] == []
    assert state_of(state_engine) == "firing"


def test_a_new_incident_after_resolve_gets_its_own_notification(
    model: Model, state_engine: Engine, clock: FakeClock
) -> None:
    ev = evaluator(model, state_engine, clock)
    for _ in range(2):
        step(ev, state_engine, clock, 1200)
        step(ev, state_engine, clock, 1500, seconds=300)
        step(ev, state_engine, clock, 10, seconds=200)  # first false evaluation: keeps firing
        step(ev, state_engine, clock, 10, seconds=120)  # keep_firing_for (2m) after it: resolves
    assert [(k, p["incident"]) for k, p in outbox(state_engine)] == [
        ("firing", 1),
        ("resolved", 1),
        ("firing", 2),
        ("resolved", 2),
    ]
