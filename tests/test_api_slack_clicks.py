"""A click on a Slack button while another process holds the state database's write lock.

Slack gives up on an interaction after 3 seconds. The click must be answered at once, applied
once the database is free, and the person who clicked told the outcome through `response_url`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.alerting_model import write_alerting_model
from tests.support.otlp import serve
from tests.support.response_url import ResponseUrl
from tests.test_slack_interactions import SECRET, fire, incident, signed

LOCK_SECONDS = 10
HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE incident SET updated_at = updated_at")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@pytest.fixture
def response_url() -> Iterator[ResponseUrl]:
    server = ResponseUrl()
    yield server
    server.close()


def test_a_click_is_answered_at_once_while_the_database_is_locked_and_applied_after(
    tmp_path: Path, response_url: ResponseUrl
) -> None:
    db = tmp_path / "state.db"
    settings = Settings(database_url=f"sqlite:///{db}", slack_signing_secret=SecretStr(SECRET))
    model = write_alerting_model(tmp_path / "m")
    runtime = Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})
    fire(runtime)
    payload = {
        "type": "block_actions",
        "user": {"id": "U123", "username": "alice"},
        "response_url": response_url.url,
        "actions": [{"action_id": "flowhealth_ack", "value": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    with (
        serve(runtime) as base,
        subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(db), str(LOCK_SECONDS)], stdout=subprocess.PIPE, text=True
        ) as holder,
    ):
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        answer = httpx.post(f"{base}/slack/interactions", content=body, headers=signed(body), timeout=10)
        answered_in = time.monotonic() - locked_at
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert answer.status_code == 200 and answered_in < 3.0, f"answered in {answered_in:.1f}s"
        assert health.status_code == 200 and time.monotonic() - locked_at < 3.0
        assert incident(runtime)["acked_by"] is None  # readers still see the state before the click
        reply = response_url.received.get(timeout=LOCK_SECONDS + 30)
        told_after = time.monotonic() - locked_at
    assert told_after >= LOCK_SECONDS - 1  # applied once the lock was gone, not dropped
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert reply["text"].startswith("You acknowledged incident #1 until ")
    assert incident(runtime)["acked_by"] == "<@U123>"


def test_a_click_on_a_resolved_incident_tells_the_clicker_why_nothing_changed(
    tmp_path: Path, response_url: ResponseUrl
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", slack_signing_secret=SecretStr(SECRET))
    runtime = Runtime.build(
        settings, write_alerting_model(tmp_path / "m"), clock=FakeClock(), registry=CollectorRegistry(), environ={}
    )
    fire(runtime)
    runtime.actions.resolve("1", "dave")
    payload = {
        "user": {"id": "U9"},
        "response_url": response_url.url,
        "actions": [{"action_id": "flowhealth_ack", "value": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    with serve(runtime) as base:
        assert httpx.post(f"{base}/slack/interactions", content=body, headers=signed(body)).status_code == 200
        reply = response_url.received.get(timeout=10)
    assert reply["text"] == "Incident #1 is resolved: nothing to change."
