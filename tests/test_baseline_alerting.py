"""A baseline rule end to end: history in the state store, the evaluator fires, the message explains.

Runs on SQLite and PostgreSQL: the slot means are SQL averages over the samples table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.notices import IncidentView
from flowhealth.alerting.payload import Links
from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.notify.console import render_incident
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, prune_samples, record_readings
from flowhealth.store.tables import AlertState, OutboxMessage, Sample

LINKS = Links("http://flowhealth.test", "http://grafana.test")
FRIDAY_3PM = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)  # Fri 15:00 in Berlin
RULE = "orders-below-expected"


def seed(engine: Engine, weeks: list[int], value: float = 1.0) -> None:
    """One order per second, every minute around Friday 15:00, in the given past weeks."""
    with transaction(engine) as session:
        for k in weeks:
            around = FRIDAY_3PM - timedelta(weeks=k)
            for minute in range(-30, 31):
                at = around + timedelta(minutes=minute)
                record_readings(session, "order-intake", "order_rate", [Reading(value)], at, "sql")


def run_outage(reference_model: Model, engine: Engine) -> tuple[FakeClock, Evaluator]:
    """Orders stop from 14:50 on; the evaluator runs each minute until 15:00 Berlin time."""
    clock = FakeClock(FRIDAY_3PM - timedelta(minutes=10))
    metrics = Metrics(CollectorRegistry())
    evaluator = Evaluator(reference_model, engine, clock, metrics, IncidentManager(reference_model, LINKS))
    for _ in range(11):
        with transaction(engine) as session:
            record_readings(session, "order-intake", "order_rate", [Reading(0.0)], clock.now(), "sql")
        evaluator.evaluate()
        clock.advance(timedelta(minutes=1))
    return clock, evaluator


def state(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.get(AlertState, (RULE, "{}"))
    return row.state if row else "inactive"


def test_zero_orders_at_a_busy_time_fires_and_says_what_was_expected(
    reference_model: Model, state_engine: Engine
) -> None:
    seed(state_engine, [1, 2, 3, 4])
    run_outage(reference_model, state_engine)
    assert state(state_engine) == "firing"
    with Session(state_engine) as session:
        message = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).first()
    assert message is not None
    view = json.loads(message.payload)["view"]
    [alert] = [a for a in view["alerts"] if a["rule"] == RULE]
    assert alert["expected"] == {
        "value": 1.0,
        "low": 0.6,
        "high": 1.0,
        "deviation_percent": -100.0,
        "basis": "Fri 14:55, 4 weeks",
        "learning": False,
        "money_at_risk": 304200.0,  # 1 order/s missing = 3,600 orders an hour x 84.50 EUR
        "currency": "EUR",
        "money_per": "hour",
    }
    text = render_incident(IncidentView.model_validate(view))
    assert (
        "value: expected 1 (band 0.6-1), now 0 records per second: -100%; Fri 14:55, 4 weeks; about 304,200 EUR at risk per hour"
        in text
    )


def test_a_new_shop_is_learning_and_stays_quiet(reference_model: Model, state_engine: Engine) -> None:
    seed(state_engine, [1])  # one week of history; the rule needs two
    run_outage(reference_model, state_engine)
    assert state(state_engine) == "inactive"
    seed(state_engine, [2])
    run_outage(reference_model, state_engine)
    assert state(state_engine) == "firing"


def test_history_of_baseline_signals_outlives_sample_retention(reference_model: Model, state_engine: Engine) -> None:
    from flowhealth.alerting.baseline_live import baseline_retention

    seed(state_engine, [3])
    with transaction(state_engine) as session:
        record_readings(
            session, "order-export", "outbound_queue_depth", [Reading(3)], FRIDAY_3PM - timedelta(weeks=3), "sql"
        )
    with transaction(state_engine) as session:
        prune_samples(session, FRIDAY_3PM - timedelta(days=14), baseline_retention(reference_model, FRIDAY_3PM))
    with Session(state_engine) as session:
        kept = {row.signal for row in session.exec(select(Sample)).all()}
    assert kept == {"order_rate"}  # 4 weeks + a day for the baseline; 14 days for the rest


def test_readiness_shows_a_learning_baseline(reference_model: Model, state_engine: Engine) -> None:
    from flowhealth.hypercare.readiness import check_readiness
    from flowhealth.hypercare.readiness_text import readiness_table

    seed(state_engine, [1])
    results = {r.flow: r for r in check_readiness(reference_model, state_engine, FRIDAY_3PM)}
    [check] = [c for c in results["order-intake"].checks if c.id == "baselines_learned"]
    assert check.status == "learning"
    assert "orders-below-expected is learning (1 of 2 weeks of history): it does not alert yet" in check.why
    assert results["order-intake"].ready  # learning holds no go-live
    assert "  lrn   Baseline rules have learned" in readiness_table(list(results.values()))
    seed(state_engine, [2])
    results = {r.flow: r for r in check_readiness(reference_model, state_engine, FRIDAY_3PM)}
    [check] = [c for c in results["order-intake"].checks if c.id == "baselines_learned"]
    assert (check.status, check.why) == ("pass", "orders-above-expected (2 weeks), orders-below-expected (2 weeks)")


def test_the_board_shows_the_band_and_what_the_alert_expected(reference_model: Model, state_engine: Engine) -> None:
    from flowhealth.hypercare.board import board_data

    seed(state_engine, [1, 2, 3, 4])
    clock, _ = run_outage(reference_model, state_engine)
    board = board_data(reference_model, state_engine, clock.now(), LINKS)
    [flow] = [f for f in board["flows"] if f["flow"] == "order-intake"]
    assert flow["status"] == "firing"
    [alert] = [a for a in flow["alerts"] if a["rule"] == RULE]
    assert alert["expected"] == (
        "expected 1 (band 0.6-1), now 0 records per second: -100%; Fri 15:01, 4 weeks; about 304,200 EUR at risk per hour"
    )
    [rate] = [s for s in flow["signals"] if s["signal"] == "order_rate"]
    below = next(t for t in rate["thresholds"] if t["rule"] == RULE)
    assert below["text"] == "expected 0.60 records per second to 1 records per second (Fri 15:01, 4 weeks)"
    assert rate["series"][0]["breached"]


def test_the_api_lists_a_baseline_alert_with_what_it_expected(reference_model: Model, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from flowhealth.api.app import create_app
    from flowhealth.runtime import Runtime
    from flowhealth.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    runtime = Runtime.build(
        settings, reference_model, clock=FakeClock(FRIDAY_3PM), registry=CollectorRegistry(), environ={}
    )
    seed(runtime.engine, [1, 2, 3, 4])
    run_outage(reference_model, runtime.engine)
    alerts = TestClient(create_app(runtime, manage_runtime=False)).get("/api/v1/alerts").json()
    [alert] = [a for a in alerts if a["rule"] == RULE]
    assert alert["state"] == "firing"
    assert alert["expected"]["value"] == 1.0 and alert["expected"]["low"] == 0.6
    assert alert["expected"]["deviation_percent"] == -100.0
    assert alert["expected"]["money_at_risk"] == 304200.0 and alert["expected"]["currency"] == "EUR"
    assert alert["expected"]["basis"] == "Fri 15:00, 4 weeks"
