"""The board (and the incident page) say where an incident was acknowledged: Slack, PagerDuty, the API or the CLI."""

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
from typer.testing import CliRunner

from flowhealth.api.app import create_app
from flowhealth.cli.main import app as cli
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from tests.support.alerting_model import write_alerting_model
from tests.support.browser import chromium, serious_violations
from tests.support.demo_stack import free_port, serve

TOKEN = "board-token-1234"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        api_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr(SLACK_SECRET),
    )
    model = write_alerting_model(tmp_path / "m")
    runtime = Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})
    with transaction(runtime.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], runtime.clock.now(), "push")
    runtime.evaluator.evaluate()
    return runtime


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime, manage_runtime=False))


def board_incident(client: TestClient) -> dict[str, object]:
    [orders] = [f for f in client.get("/api/v1/board").json()["flows"] if f["flow"] == "orders"]
    [incident] = orders["incidents"]
    assert isinstance(incident, dict)
    return incident


def incident_line(client: TestClient) -> str:
    page = client.get("/").text
    start = page.index('<div class="incident"')
    return " ".join(page[start : page.index("</div>", start)].split())


def slack_click(client: TestClient, user: str) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [{"action_id": "flowhealth_ack", "value": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert client.post("/slack/interactions", content=body, headers=headers).status_code == 200


def test_not_acknowledged_says_nowhere(client: TestClient) -> None:
    incident = board_incident(client)
    assert (incident["acked"], incident["acked_via"], incident["acked_where"]) == (False, None, None)
    assert "not acknowledged" in incident_line(client)


def test_an_ack_clicked_in_slack(client: TestClient) -> None:
    slack_click(client, "U123")
    incident = board_incident(client)
    assert (incident["acked_by"], incident["acked_via"], incident["acked_where"]) == ("<@U123>", "slack", "Slack")
    assert "acknowledged by &lt;@U123&gt; in Slack" in incident_line(client)
    assert "acknowledged by <strong>&lt;@U123&gt;</strong> in Slack" in client.get("/incidents/1").text


def test_an_ack_over_the_api(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/v1/incidents/1/ack", json={"actor": "alice"}, headers=auth).status_code == 200
    assert (board_incident(client)["acked_via"], board_incident(client)["acked_where"]) == ("api", "the API")
    assert "acknowledged by alice in the API" in incident_line(client)


def test_an_ack_from_the_terminal(
    runtime: Runtime, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    acked = CliRunner().invoke(cli, ["ack", "1", "--as", "bob", "-m", str(tmp_path / "m")])
    assert acked.exit_code == 0, acked.output
    assert board_incident(client)["acked_via"] == "cli"
    assert "acknowledged by bob in the CLI" in incident_line(client)


def test_the_latest_ack_is_the_one_shown(runtime: Runtime, client: TestClient) -> None:
    slack_click(client, "U123")
    runtime.clock.advance(5 * 3600)  # past the 4 h acknowledgement
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/v1/incidents/1/ack", json={"actor": "carol"}, headers=auth).status_code == 200
    assert "acknowledged by carol in the API" in incident_line(client)


@pytest.mark.slow
def test_the_board_in_a_browser_says_where(runtime: Runtime, client: TestClient) -> None:
    slack_click(client, "U123")
    with serve(runtime, free_port()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        line = page.locator("#flow-orders .incident").first.inner_text()
        assert "acknowledged by <@U123> in Slack" in line
        assert serious_violations(page) == []
