"""A message held by an error only a person can fix (bot not invited) is visible: API, metric, log alert.

The real outbox worker and SlackNotifier against the strict local Slack server; the bot is not in
the channel until someone invites it, then the message arrives and the alert clears.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from flowhealth.api import outbox as outbox_api
from flowhealth.api.deps import get_engine
from flowhealth.clock import FakeClock
from flowhealth.metrics import StateCollector
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import write_alerting_model
from tests.support.slack_server import SlackServer
from tests.test_slack_delivery import drain, worker_for


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts", "C2": "erp-alerts", "C3": "leads", "C4": "finance-alerts"}) as server:
        yield server


@pytest.fixture
def rig(tmp_path: Path, clock: FakeClock) -> Rig:
    return make_rig(write_alerting_model(tmp_path / "m"), tmp_path, clock)


def waiting_metric(rig: Rig) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    registry.register(StateCollector(rig.model, rig.engine, lambda: datetime.now(UTC)))
    return {
        (s.labels["receiver"], s.labels["reason"]): s.value
        for family in registry.collect()
        if family.name == "flowhealth_notifications_waiting"
        for s in family.samples
    }


def test_a_bot_not_in_the_channel_holds_the_message_visibly_until_invited(
    rig: Rig, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    slack.slack.not_member.add("C1")
    worker = worker_for(rig, slack)
    app = FastAPI()
    app.include_router(outbox_api.router)
    app.dependency_overrides[get_engine] = lambda: rig.engine
    api = TestClient(app)
    rig.observe("orders", "delay", 1800)
    rig.tick()
    with caplog.at_level(logging.WARNING, logger="flowhealth.notify.delivery"):
        drain(rig, worker, passes=3)

        [held] = api.get("/api/v1/outbox").json()
        assert held["state"] == "waiting" and held["needs_person"] == "not_in_channel"
        assert held["fix"] == "invite the bot to the channel (/invite @flowhealth)"
        assert waiting_metric(rig) == {("slack", "not_in_channel"): 1.0}
        assert any(
            "ALERT flowhealth-delivery-failing receiver=slack channel=#shop-alerts reason=not_in_channel" in r.message
            for r in caplog.records
        )
        assert slack.slack.top_level("#shop-alerts") == []

        slack.slack.not_member.clear()  # someone invites the bot
        rig.clock.advance(600)  # the 10-minute retry of errors a person must fix
        drain(rig, worker, passes=3)
    [message] = slack.slack.top_level("#shop-alerts")
    assert message.text.startswith("[FIRING")
    assert api.get("/api/v1/outbox").json() == []
    assert waiting_metric(rig) == {}
    assert any(r.message.startswith("RESOLVED flowhealth-delivery-failing") for r in caplog.records)
