"""Nobody let in: every write route wants the token, and every request body is size-limited."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from starlette.types import Message

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.faults import TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model

# Not behind the bearer token, each for a reason: OTLP exporters send no token (the receiver only
# folds spans into journeys); Slack and PagerDuty prove themselves with their request signatures instead.
OTHERWISE_GUARDED = {"/v1/traces", "/slack/interactions", "/slack/commands", "/api/v1/pagerduty"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    model = write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        api_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr("signing-secret"),
        max_body_bytes=4096,
        otlp_max_body_bytes=8192,
    )
    runtime = Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})
    yield create_app(runtime, manage_runtime=False)
    runtime.stop()


def body_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Write operations that read a request body (the others never buffer one)."""
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if method.upper() in WRITE_METHODS and "requestBody" in operation and path != "/v1/traces"
    ]


def write_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every write operation the app serves, read from its OpenAPI document (built from its routes)."""
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in WRITE_METHODS
    ]


def test_every_write_route_refuses_a_missing_or_wrong_token(app: FastAPI) -> None:
    client = TestClient(app)
    routes = [(m, p) for m, p in write_routes(app) if p not in OTHERWISE_GUARDED]
    assert len(routes) >= 7, routes
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            answer = client.request(method, path, json={}, headers=headers)
            assert answer.status_code == 401, f"{method} {path} with {headers}: {answer.status_code}"
            assert answer.headers.get("www-authenticate") == "Bearer"


def test_slack_interactions_without_a_valid_fresh_signature_are_401(app: FastAPI) -> None:
    client = TestClient(app)
    for headers in ({}, {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"}):
        assert client.post("/slack/interactions", content=b"payload=%7B%7D", headers=headers).status_code == 401
        assert client.post("/slack/commands", content=b"text=ack+1&user_id=U1", headers=headers).status_code == 401


@pytest.mark.parametrize("method_path", ["write", "/slack/interactions", "/v1/traces"])
def test_bodies_over_the_limit_are_413_declared_or_streamed(app: FastAPI, method_path: str) -> None:
    client = TestClient(app)
    targets = write_routes(app) if method_path == "write" else [("POST", method_path)]
    big = b"x" * 20_000
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 1000

    for method, path in targets:
        declared = client.request(method, path, content=big, headers=auth)
        assert declared.status_code == 413, f"{method} {path}: {declared.status_code}"
        if method_path == "write" and (method, path) not in body_routes(app):
            continue
        streamed = client.request(method, path, content=chunks(), headers=auth)
        assert streamed.status_code == 413, f"{method} {path} (chunked): {streamed.status_code}"


@pytest.mark.parametrize("path", ["/api/v1/silences", "/slack/interactions", "/v1/traces"])
def test_a_declared_length_too_long_to_read_as_a_number_is_413(app: FastAPI, path: str) -> None:
    # Python refuses to turn more than 4,300 digits into an int; that must not become a 500.
    # Sent straight to the app: HTTP clients would not forge the header.
    answers: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        answers.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-length", b"9" * 5000),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert answers[0]["status"] == 413
