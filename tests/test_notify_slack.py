"""Slack delivery through slack-sdk against a local server speaking the Slack Web API."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
from flowhealth.notify.delivery import OutboxWorker
from flowhealth.notify.slack import SlackNotifier
from flowhealth.runtime import default_notifier
from flowhealth.settings import Settings
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import OutboxMessage
from tests.support.models import orders_flow, write_model
from tests.support.slack_server import SlackServer

RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Paid orders are not shipped today.
    runbook: orders-late
"""


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C0SHOP": "shop-alerts", "C0ERP": "erp-alerts"}) as server:
        yield server


@pytest.fixture
def setup(tmp_path: Path, clock: FakeClock, slack: SlackServer) -> tuple[Model, Engine, Evaluator, OutboxWorker]:
    model = write_model(tmp_path / "m", orders_flow("sqlite://", "SELECT 1"), RULES)
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    metrics = Metrics(CollectorRegistry())
    evaluator = Evaluator(
        model, engine, clock, metrics, IncidentManager(model, Links("http://fh.test", "http://grafana.test"))
    )
    notifier = SlackNotifier.from_token(slack.token, slack.base_url, timeout=5)
    return model, engine, evaluator, OutboxWorker(engine, notifier, clock, metrics, pacing_clock=clock.monotonic)


def observe(engine: Engine, clock: FakeClock, value: float) -> None:
    with transaction(engine) as session:
        record_readings(session, "orders", "delay", [Reading(value)], clock.now(), "sql")


def fire(engine: Engine, clock: FakeClock, evaluator: Evaluator, value: float = 1800) -> None:
    clock.advance(30)
    observe(engine, clock, value)
    assert [t.event for t in evaluator.evaluate()] == ["firing"]


def resolve(engine: Engine, clock: FakeClock, evaluator: Evaluator, value: float = 20) -> None:
    clock.advance(30)
    observe(engine, clock, value)
    assert [t.event for t in evaluator.evaluate()] == ["resolved"]


def drain(worker: OutboxWorker, clock: FakeClock, passes: int = 30) -> None:
    """Run delivery passes, moving the clock past any backoff, until nothing is left."""
    for _ in range(passes):
        worker.run_once()
        clock.advance(timedelta(minutes=6))


def pending(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None))).all())


def all_text(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def test_firing_message_has_what_on_call_needs(setup, slack: SlackServer, clock: FakeClock) -> None:
    _, engine, evaluator, worker = setup
    fire(engine, clock, evaluator)
    assert worker.run_once().delivered == 1
    [message] = slack.slack.top_level("#shop-alerts")
    text = all_text(message.blocks)
    assert message.text == "[FIRING] CRITICAL orders: Oldest order waits 30m"
    buttons = {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}
    assert {
        "flowhealth_ack",
        "flowhealth_resolve",
        "flowhealth_silence_1h",
        "flowhealth_silence_4h",
        "flowhealth_silence_tomorrow",
    } <= set(buttons)
    assert buttons["flowhealth_ack"]["value"] == "1"
    assert buttons["flowhealth_open_runbook"]["url"] == "http://fh.test/runbooks/orders-late"
    assert buttons["flowhealth_open_incident"]["url"] == "http://fh.test/incidents/1"  # its timeline page
    for expected in (
        "Oldest order waits 30m",
        "30m > 15m",
        "Paid orders are not shipped today.",
        "shop-team (#shop-alerts)",
        "@shop-oncall",
        "http://fh.test/runbooks/orders-late",
        "http://grafana.test/d/flowhealth-flow-orders/",
    ):
        assert expected in text, expected
    assert message.metadata is not None and message.metadata["event_payload"]["dedup_key"] == "incident:1:1:open"


def test_resolve_edits_the_message_in_place_and_replies_in_thread(setup, slack: SlackServer, clock: FakeClock) -> None:
    _, engine, evaluator, worker = setup
    fire(engine, clock, evaluator)
    worker.run_once()
    resolve(engine, clock, evaluator, value=20)
    assert worker.run_once().delivered == 1
    [message] = slack.slack.top_level("#shop-alerts")
    assert message.edits == 1
    assert "Resolved: orders" in all_text(message.blocks)
    assert "Value at resolve*\\n20s" in all_text(message.blocks)
    [reply] = slack.slack.replies(message.ts)
    assert reply.text == ":white_check_mark: Resolved after 30s: orders-late at 20s."


def test_slack_outage_delays_but_loses_and_duplicates_nothing(setup, slack: SlackServer, clock: FakeClock) -> None:
    _, engine, evaluator, worker = setup
    slack.slack.down = True
    fire(engine, clock, evaluator)
    for _ in range(5):
        worker.run_once()
        clock.advance(timedelta(minutes=6))
    resolve(engine, clock, evaluator)
    worker.run_once()
    assert pending(engine) == 2 and slack.slack.messages == []
    slack.slack.down = False
    drain(worker, clock)
    assert pending(engine) == 0
    [message] = slack.slack.top_level("#shop-alerts")
    assert message.edits == 1 and len(slack.slack.replies(message.ts)) == 1


def test_a_500_after_slack_stored_the_post_does_not_duplicate_it(setup, slack: SlackServer, clock: FakeClock) -> None:
    _, engine, evaluator, worker = setup
    slack.slack.failures.append(("500-after-store", None))
    fire(engine, clock, evaluator)
    assert worker.run_once().retried == 1
    assert len(slack.slack.top_level("#shop-alerts")) == 1  # Slack has it, we do not know
    drain(worker, clock)
    assert pending(engine) == 0
    assert len(slack.slack.top_level("#shop-alerts")) == 1
    methods = [m for m, _ in slack.slack.calls]
    assert methods.count("chat.postMessage") == 1 and "conversations.history" in methods


def test_rate_limit_retry_after_is_honoured(setup, slack: SlackServer, clock: FakeClock) -> None:
    _, engine, evaluator, worker = setup
    slack.slack.failures.append(("429", 120))
    fire(engine, clock, evaluator)
    assert worker.run_once().retried == 1
    clock.advance(60)
    assert worker.run_once().delivered == 0  # Slack asked for 120 s
    clock.advance(61)
    assert worker.run_once().delivered == 1
    assert len(slack.slack.top_level("#shop-alerts")) == 1


def test_permanent_error_keeps_the_message_for_later(setup, slack: SlackServer, clock: FakeClock) -> None:
    _, engine, evaluator, worker = setup
    del slack.slack.channels["C0SHOP"]  # the bot is not in the channel (yet)
    fire(engine, clock, evaluator)
    worker.run_once()
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
    assert row.delivered_at is None and row.last_error == "Slack rejected the message: channel_not_found"
    slack.slack.channels["C0SHOP"] = "shop-alerts"  # someone invites the bot
    drain(worker, clock)
    assert len(slack.slack.top_level("#shop-alerts")) == 1


def test_without_a_token_notifications_go_to_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert type(default_notifier(Settings())).__name__ == "ConsoleNotifier"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert type(default_notifier(Settings())).__name__ == "SlackNotifier"
