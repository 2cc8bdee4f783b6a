"""Incident and silence operations over HTTP, behind the bearer token."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from tests.support.alerting_model import write_alerting_model

TOKEN = "test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    model = write_alerting_model(tmp_path / "m")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=SecretStr(TOKEN))
    runtime = Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})
    with transaction(runtime.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], runtime.clock.now(), "push")
    runtime.evaluator.evaluate()
    return runtime


@pytest.fixture
def api(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime, manage_runtime=False))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
def test_write_endpoints_need_the_token(api: TestClient, headers: dict[str, str]) -> None:
    response = api.post("/api/v1/incidents/1/ack", json={"actor": "eve"}, headers=headers)
    assert response.status_code == 401
    assert api.get("/api/v1/incidents").json()[0]["acked_by"] is None


def test_without_a_configured_token_writes_are_closed(runtime: Runtime, api: TestClient) -> None:
    runtime.settings = runtime.settings.model_copy(update={"api_token": None})
    response = api.post("/api/v1/incidents/1/ack", json={"actor": "eve"}, headers=AUTH)
    assert response.status_code == 403


def test_ack_resolve_and_their_errors(api: TestClient) -> None:
    response = api.post("/api/v1/incidents/1/ack", json={"actor": "alice", "ttl": "30m"}, headers=AUTH)
    assert response.status_code == 200 and response.json()["acked_by"] == "alice"
    assert (
        api.post("/api/v1/incidents/orders-late/resolve", json={"actor": "alice"}, headers=AUTH).json()["status"]
        == "resolved"
    )
    again = api.post("/api/v1/incidents/1/ack", json={"actor": "alice"}, headers=AUTH)
    assert again.status_code == 409 and again.json()["detail"] == "incident 1 is already resolved"
    missing = api.post("/api/v1/incidents/99/ack", json={"actor": "alice"}, headers=AUTH)
    assert missing.status_code == 404


def test_silences_create_list_expire(api: TestClient) -> None:
    created = api.post(
        "/api/v1/silences",
        json={"matchers": {"system": "erp"}, "duration": "2h", "author": "ops", "reason": "cutover"},
        headers=AUTH,
    )
    assert created.status_code == 201
    silence = created.json()
    assert silence["matchers"] == {"system": "erp"} and silence["author"] == "ops"
    assert [s["id"] for s in api.get("/api/v1/silences").json()] == [silence["id"]]
    assert api.delete(f"/api/v1/silences/{silence['id']}?actor=ops", headers=AUTH).status_code == 200
    assert api.get("/api/v1/silences").json() == []


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {"matchers": {"colour": "red"}, "duration": "1h", "author": "a", "reason": "r"},
            422,
            "unknown matcher 'colour'",
        ),
        ({"matchers": {"flow": "nope"}, "duration": "1h", "author": "a", "reason": "r"}, 422, "unknown flow 'nope'"),
        ({"matchers": {}, "duration": "1h", "author": "a", "reason": "r"}, 422, "a silence needs at least one matcher"),
        ({"matchers": {"flow": "orders"}, "author": "a", "reason": "r"}, 422, None),
        ({"matchers": {"flow": "orders"}, "duration": "soon", "author": "a", "reason": "r"}, 422, None),
        ({"matchers": {"flow": "orders"}, "until": "2026-01-05T18:00:00", "author": "a", "reason": "r"}, 422, None),
    ],
)
def test_bad_silences_are_4xx_with_a_reason(api: TestClient, body: dict, status: int, detail: str | None) -> None:
    response = api.post("/api/v1/silences", json=body, headers=AUTH)
    assert response.status_code == status
    if detail:
        assert response.json()["detail"].startswith(detail)
    else:
        assert response.json()["detail"]  # pydantic says which field and why


@pytest.mark.parametrize("ref", ["³", "٣", "9" * 30, "1" * 5000])
def test_odd_incident_numbers_are_not_found(api: TestClient, ref: str) -> None:
    # str.isdigit() takes superscripts; ids beyond 64 bits overflow the database; 5,000 digits overflow int().
    response = api.post(f"/api/v1/incidents/{ref}/ack", json={"actor": "eve"}, headers=AUTH)
    assert response.status_code == 404
