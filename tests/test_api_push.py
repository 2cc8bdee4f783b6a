"""Pushed values and manual interventions: the API, its refusals, the CLI, the per-reason signal."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner

from flowhealth.api.app import create_app
from flowhealth.cli.main import app as cli
from flowhealth.clock import FakeClock
from flowhealth.model import Model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.models import orders_flow, write_model

TOKEN = "push-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

EXTRA = """
      export_backlog:
        kind: depth
        description: Orders the integration has not exported yet, as it counts them.
        probe: {kind: push, expect_every: 5m}
      manual_fixes:
        kind: interventions
        description: Orders fixed by hand in the last 24 hours, per reason.
        probe: {kind: interventions, window: 24h, interval: 1m}
"""


@pytest.fixture
def model(tmp_path: Path) -> Model:
    return write_model(tmp_path / "m", orders_flow("sqlite://", "SELECT 1", extra=EXTRA))


@pytest.fixture
def runtime(model: Model, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=SecretStr(TOKEN))
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    yield runtime
    runtime.stop()


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime, manage_runtime=False))


def series(client: TestClient, signal: str) -> list[dict[str, object]]:
    flows = client.get("/api/v1/flows").json()
    return next(s for s in flows[0]["signals"] if s["signal"] == signal)["series"]  # type: ignore[no-any-return]


def test_pushed_value_becomes_the_signal_and_a_metric(client: TestClient, runtime: Runtime) -> None:
    answer = client.post(
        "/api/v1/flows/orders/signals/export_backlog", json={"value": 12, "labels": {"queue": "erp"}}, headers=AUTH
    )
    assert answer.status_code == 202
    client.post(
        "/api/v1/flows/orders/signals/export_backlog", json={"value": 3, "labels": {"queue": "wms"}}, headers=AUTH
    )
    assert {s["labels"]["queue"]: s["value"] for s in series(client, "export_backlog")} == {"erp": 12, "wms": 3}  # type: ignore[index]
    metrics = client.get("/metrics").text
    assert 'flowhealth_flow_queue_depth_messages{flow="orders",queue="erp",signal="export_backlog"} 12.0' in metrics


@pytest.mark.parametrize(
    ("path", "body", "headers", "code", "reason"),
    [
        ("/api/v1/flows/orders/signals/export_backlog", {"value": 1}, {}, 401, "bearer token"),
        (
            "/api/v1/flows/orders/signals/export_backlog",
            {"value": 1},
            {"Authorization": "Bearer nope"},
            401,
            "bearer token",
        ),
        ("/api/v1/flows/nope/signals/export_backlog", {"value": 1}, AUTH, 404, "no signal"),
        ("/api/v1/flows/orders/signals/nope", {"value": 1}, AUTH, 404, "no signal"),
        ("/api/v1/flows/orders/signals/delay", {"value": 1}, AUTH, 409, "sql probe, not pushed"),
        ("/api/v1/flows/orders/signals/export_backlog", {"value": "many"}, AUTH, 422, "valid number"),
        ("/api/v1/flows/orders/signals/export_backlog", {}, AUTH, 422, "Field required"),
        ("/api/v1/flows/orders/signals/export_backlog", {"value": 1, "labels": {"flow": "x"}}, AUTH, 422, "reserved"),
        (
            "/api/v1/flows/orders/signals/export_backlog",
            {"value": 1, "labels": {"bad-name": "x"}},
            AUTH,
            422,
            "pattern",
        ),
        ("/api/v1/flows/orders/interventions", {"reason": "Resend!", "record": "SO-1"}, AUTH, 422, "pattern"),
        ("/api/v1/flows/nope/interventions", {"reason": "resend", "record": "SO-1"}, AUTH, 404, "no flow"),
        # Only whitespace: refused, and the documented schema says so (a pattern), not only a length.
        ("/api/v1/flows/orders/interventions", {"reason": "resend", "record": "\r\f"}, AUTH, 422, "at least 1"),
    ],
)
def test_malformed_or_misdirected_writes_are_refused_with_a_reason(
    client: TestClient, path: str, body: dict[str, object], headers: dict[str, str], code: int, reason: str
) -> None:
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code == code
    assert reason in answer.text


def test_non_finite_value_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/flows/orders/signals/export_backlog",
        content=b'{"value": NaN}',
        headers={**AUTH, "content-type": "application/json"},
    )
    assert answer.status_code == 422


def test_interventions_are_counted_per_reason_in_their_window(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    for reason, record in (("resend", "SO-1"), ("resend", "SO-2"), ("mapping_fix", "SO-3")):
        answer = client.post(
            "/api/v1/flows/orders/interventions",
            json={"reason": reason, "record": record, "actor": "ana"},
            headers=AUTH,
        )
        assert answer.status_code == 201
    runtime.runner.run("orders", "manual_fixes")
    assert {s["labels"]["reason"]: s["value"] for s in series(client, "manual_fixes")} == {
        "resend": 2,
        "mapping_fix": 1,
    }  # type: ignore[index]
    clock.advance(timedelta(hours=25))
    runtime.runner.run("orders", "manual_fixes")
    assert series(client, "manual_fixes") == []  # out of the window: the alert on it resolves


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    instance = uvicorn.Server(
        uvicorn.Config(create_app(runtime, manage_runtime=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:  # uvicorn signals readiness only through this flag
        thread.join(0.01)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(5)


def test_cli_push_and_intervention_go_through_the_api(
    server: str, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWHEALTH_API_TOKEN", TOKEN)
    runner = CliRunner()
    pushed = runner.invoke(cli, ["push", "orders", "export_backlog", "7", "--label", "queue=erp", "--url", server])
    assert pushed.exit_code == 0, pushed.output
    assert series(client, "export_backlog")[0]["value"] == 7
    fixed = runner.invoke(
        cli, ["intervention", "orders", "--reason", "resend", "--record", "SO-9", "--actor", "ana", "--url", server]
    )
    assert fixed.exit_code == 0 and "recorded intervention 1 on orders: resend SO-9" in fixed.output
    refused = runner.invoke(cli, ["push", "orders", "delay", "7", "--url", server])
    assert refused.exit_code == 1 and "409" in refused.output
    monkeypatch.setenv("FLOWHEALTH_API_TOKEN", "wrong")
    assert runner.invoke(cli, ["push", "orders", "export_backlog", "1", "--url", server]).exit_code == 1


def test_the_documented_intervention_record_needs_a_character_that_is_not_whitespace(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["InterventionIn"]["properties"]["record"]["pattern"] == "\\S"
