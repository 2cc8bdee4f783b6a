"""The board says when owners were not told: a banner per failing receiver, in a real Chromium;
each incident's page says the same for its own messages.

The real outbox worker delivers to the strict local Slack server: one channel answers 429 with a
long Retry-After, the bot was never invited to the other. The board and `/api/v1/board` name the
receiver, how many notifications wait since when and why, with the fix; once the bot is invited
and the rate limit has passed, the banner is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.hypercare.board_delivery import REPLAY
from flowhealth.notify.slack import SlackNotifier
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from tests.support.alerting_model import write_alerting_model
from tests.support.browser import chromium, serious_violations
from tests.support.demo_stack import free_port, serve
from tests.support.slack_server import SlackServer

INVITE = "invite the bot to the channel (/invite @flowhealth)"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts", "C2": "erp-alerts", "C3": "leads", "C4": "finance-alerts"}) as server:
        yield server


@pytest.fixture
def runtime(tmp_path: Path, clock: FakeClock, slack: SlackServer) -> Iterator[Runtime]:
    runtime = Runtime.build(
        Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
        write_alerting_model(tmp_path / "m"),
        clock=clock,
        registry=CollectorRegistry(),
        notifier=SlackNotifier.from_token(slack.token, slack.base_url, timeout=5),
        environ={},
        pacing_clock=clock.monotonic,
    )
    yield runtime
    runtime.stop()


def fire_two_incidents(runtime: Runtime, slack: SlackServer) -> None:
    """Orders (#shop-alerts) hits a 429 for five minutes; stock (#erp-alerts) finds the bot not invited."""
    slack.slack.failures.append(("429", 300))
    slack.slack.not_member.add("C2")
    with transaction(runtime.engine) as session:
        now = runtime.clock.now()
        record_readings(session, "orders", "delay", [Reading(1800)], now, "push")
        record_readings(session, "stock", "age", [Reading(3600)], now, "push")
    runtime.evaluate_and_deliver()


def test_board_api_names_the_failing_receiver_and_why(runtime: Runtime, slack: SlackServer) -> None:
    fire_two_incidents(runtime, slack)
    api = TestClient(create_app(runtime, manage_runtime=False))
    [failing] = api.get("/api/v1/board").json()["delivery"]
    assert failing["receiver"] == "slack" and failing["waiting"] == 2 and failing["given_up"] == 0
    assert failing["reasons"] == ["not_in_channel", "rate limited"]
    assert failing["channels"] == ["#erp-alerts", "#shop-alerts"]
    assert failing["fixes"] == [INVITE]
    since = f"{runtime.clock.now():%H:%M}"
    assert failing["text"] == f"Slack: 2 notifications waiting since {since} UTC — not_in_channel / rate limited"


def test_board_counts_messages_given_up_after_their_retries(runtime: Runtime, slack: SlackServer) -> None:
    slack.slack.down = True  # every call answers 503 for the next hours
    opened = runtime.clock.now()
    with transaction(runtime.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], opened, "push")
    runtime.evaluate_and_deliver()
    for _ in range(20):  # past the bounded retries (about an hour of backoff)
        runtime.clock.advance(301)
        runtime.worker.run_once()
    api = TestClient(create_app(runtime, manage_runtime=False))
    [failing] = api.get("/api/v1/board").json()["delivery"]
    assert (failing["waiting"], failing["given_up"], failing["fixes"]) == (0, 1, [REPLAY])
    when = f"{opened:%H:%M}" if opened.date() == runtime.clock.now().date() else f"{opened:%Y-%m-%d %H:%M}"
    assert failing["text"] == f"Slack: 1 notification given up since {when} UTC — server error"


@pytest.mark.slow
def test_board_shows_a_banner_until_the_owners_are_told(runtime: Runtime, slack: SlackServer) -> None:
    fire_two_incidents(runtime, slack)
    assert slack.slack.top_level("shop-alerts") == [] and slack.slack.top_level("erp-alerts") == []
    with serve(runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        banner = page.locator("#delivery")
        assert banner.is_visible()
        text = banner.inner_text()
        assert "Owners were not told" in text
        assert "Slack: 2 notifications waiting since" in text and "not_in_channel / rate limited" in text
        assert f"Fix: {INVITE}" in text
        # Above the flow cards: the first thing on-call reads.
        assert banner.bounding_box()["y"] < page.locator(".flows").bounding_box()["y"]
        assert serious_violations(page) == []

        # Each incident's page says its own: the stock incident waits on the invitation only.
        stock = page.locator("#flow-stock .incident a").first.get_attribute("href")
        page.goto(f"{base}{stock}")
        own = page.locator("#delivery").inner_text()
        assert "Slack: 1 notification waiting since" in own and "— not_in_channel" in own and "#erp-alerts" in own
        assert f"Fix: {INVITE}" in own and "rate limited" not in own
        assert serious_violations(page) == []

        slack.slack.not_member.clear()  # someone invites the bot
        runtime.clock.advance(600)  # past the Retry-After and the 10-minute retry of person-fixable errors
        for _ in range(5):
            runtime.worker.run_once()
            runtime.clock.advance(2)
        assert len(slack.slack.top_level("shop-alerts")) == 1 and len(slack.slack.top_level("erp-alerts")) == 1
        page.goto(f"{base}/")
        assert page.locator("#delivery").count() == 0
        page.goto(f"{base}{stock}")
        assert page.locator("#delivery").count() == 0
