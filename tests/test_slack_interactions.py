"""The Slack buttons: real signatures from a test secret, replays and forgeries rejected."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.alerting.actions import incident_number
from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.alerting_model import write_alerting_model

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    model = write_alerting_model(tmp_path / "m")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", slack_signing_secret=SecretStr(SECRET))
    return Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})


def fire(runtime: Runtime) -> None:
    from flowhealth.store.db import transaction
    from flowhealth.store.samples import Reading, record_readings

    with transaction(runtime.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], runtime.clock.now(), "push")
    runtime.evaluator.evaluate()


def signed(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click(action_id: str, value: str = "1", user: str = "U123") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "actions": [{"action_id": action_id, "value": value}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def incident(runtime: Runtime) -> dict:
    [row] = runtime.actions.list_incidents(include_resolved=True)
    return row


def test_acknowledge_button_with_a_valid_signature(runtime: Runtime) -> None:
    fire(runtime)
    body = click("flowhealth_ack")
    response = TestClient(create_app(runtime, manage_runtime=False)).post(
        "/slack/interactions", content=body, headers=signed(body)
    )
    assert response.status_code == 200
    assert incident(runtime)["acked_by"] == "<@U123>"


def test_silence_buttons_create_silences(runtime: Runtime) -> None:
    fire(runtime)
    client = TestClient(create_app(runtime, manage_runtime=False))
    body = click("flowhealth_silence_4h")
    assert client.post("/slack/interactions", content=body, headers=signed(body)).status_code == 200
    [silence] = runtime.actions.list_silences()
    assert json.loads(silence.matchers) == {"flow": "orders", "team": "shop-team"}
    assert (silence.ends_at - runtime.clock.now()).total_seconds() == 4 * 3600


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=deadbeef"},
        "wrong-secret",
        "stale",
    ],
    ids=["unsigned", "bad-signature", "wrong-secret", "replayed-after-6-minutes"],
)
def test_unsigned_forged_or_replayed_clicks_are_401_and_change_nothing(runtime: Runtime, headers: object) -> None:
    fire(runtime)
    body = click("flowhealth_resolve")
    if headers == "wrong-secret":
        headers = signed(body, secret="not-the-secret")
    elif headers == "stale":
        headers = signed(body, timestamp=int(time.time()) - 360)
    response = TestClient(create_app(runtime, manage_runtime=False)).post(
        "/slack/interactions", content=body, headers=headers
    )
    assert response.status_code == 401
    assert incident(runtime)["status"] == "open"


def test_signed_but_malformed_body_is_400(runtime: Runtime) -> None:
    body = b"payload=%7Bnot-json"
    response = TestClient(create_app(runtime, manage_runtime=False)).post(
        "/slack/interactions", content=body, headers=signed(body)
    )
    assert response.status_code == 400


def test_link_buttons_and_clicks_on_closed_incidents_are_harmless(runtime: Runtime) -> None:
    fire(runtime)
    runtime.actions.resolve("1", "bob")
    client = TestClient(create_app(runtime, manage_runtime=False))
    for action in ("flowhealth_open_runbook", "flowhealth_resolve", "flowhealth_ack"):
        body = click(action)
        assert client.post("/slack/interactions", content=body, headers=signed(body)).status_code == 200
    assert incident(runtime)["resolved_by"] == "bob"


def test_without_a_signing_secret_interactivity_is_off(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"slack_signing_secret": None})
    body = click("flowhealth_ack")
    response = TestClient(create_app(runtime, manage_runtime=False)).post(
        "/slack/interactions", content=body, headers=signed(body)
    )
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("ref", "number"),
    [("42", 42), ("#42", 42), (" #7 ", 7), ("0", None), ("³", None), ("9" * 20, None), ("orders-late", None)],
)
def test_an_incident_reference_reads_the_same_for_a_button_and_a_command(ref: str, number: int | None) -> None:
    # Buttons (which pick the team's time zone for "until tomorrow") and slash commands read it alike.
    assert incident_number(ref) == number
