"""OPTIONS and 405 agree: both name every method the path accepts, as the OpenAPI document lists them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.faults import TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model

HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
ALL_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    model = write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    runtime = Runtime.build(
        Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=SecretStr(TOKEN)),
        model,
        clock=FakeClock(),
        registry=CollectorRegistry(),
        environ={},
    )
    yield create_app(runtime, manage_runtime=False)
    runtime.stop()


def documented(app: FastAPI) -> dict[str, set[str]]:
    """Each documented path (parameters filled in) and the methods of every template it matches.

    Templates overlap (`/api/v1/silences/preview` is also `/api/v1/silences/{silence_id}`), and
    routing follows the templates, so a path's methods are those of all the templates it matches.
    """
    templates = {path: {m.upper() for m in ops} for path, ops in app.openapi()["paths"].items()}
    patterns = [
        (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"), m) for t, m in templates.items()
    ]
    paths: dict[str, set[str]] = {}
    for template in templates:
        url = re.sub(r"\{[^}]+\}", "1", template)
        paths[url] = set().union(*(methods for pattern, methods in patterns if pattern.match(url)))
    return paths


def allow(header: str) -> set[str]:
    return {m.strip() for m in header.split(",")}


def test_options_and_405_name_every_method_of_every_path(app: FastAPI) -> None:
    client = TestClient(app)
    paths = documented(app)
    assert len(paths) >= 10
    for path, methods in paths.items():
        options = client.options(path)
        assert options.status_code == 204, path
        assert allow(options.headers["allow"]) == methods | {"OPTIONS"}, path
        for wrong in sorted(ALL_METHODS - methods):
            answer = client.request(wrong, path)
            assert answer.status_code == 405, (wrong, path)
            assert allow(answer.headers["allow"]) == methods | {"OPTIONS"}, (wrong, path)


def test_an_unknown_path_is_404_for_options_too(app: FastAPI) -> None:
    assert TestClient(app).options("/nowhere").status_code == 404


def test_a_malformed_json_body_gets_a_documented_4xx_on_every_route(app: FastAPI) -> None:
    client = TestClient(app)
    document = app.openapi()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            answer = client.request(
                method.upper(), url, content=b'{"not": json', headers={"Content-Type": "application/json"}
            )
            assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
            assert str(answer.status_code) in operation["responses"], (method, path, answer.status_code)
            checked += 1
    assert checked >= 6
