"""/healthz is never `ok` while alerting is down, even when the database still answers `SELECT 1`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from flowhealth.api.app import create_app
from flowhealth.clock import SystemClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.faults import pushed_flows, pushed_rules
from tests.support.models import write_model
from tests.support.waiting import wait_until


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    model = write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}", evaluation_interval=0.2, delivery_interval=0.2
    )
    runtime = Runtime.build(settings, model, clock=SystemClock(), registry=CollectorRegistry(), environ={})
    runtime.start()
    yield runtime
    runtime.stop()
    runtime.engine.dispose()


def test_an_evaluation_failing_on_the_database_degrades_healthz_until_it_recovers(runtime: Runtime) -> None:
    api = TestClient(create_app(runtime, manage_runtime=False))
    wait_until(lambda: api.get("/healthz").json()["cycles"].get("evaluate") == "ok", 5, "a first evaluation")
    assert api.get("/healthz").status_code == 200

    with runtime.engine.begin() as c:  # what an old schema or a broken table looks like to the evaluator
        c.execute(text("ALTER TABLE alert_state RENAME TO alert_state_away"))
    wait_until(lambda: api.get("/healthz").status_code == 503, 5, "/healthz to say degraded")
    report = api.get("/healthz").json()
    assert report["status"] == "degraded"
    assert report["database"] == "ok"
    assert report["cycles"]["evaluate"].startswith("failing since ")
    assert report["cycles"]["evaluate"].endswith(": database error: OperationalError")

    with runtime.engine.begin() as c:
        c.execute(text("ALTER TABLE alert_state_away RENAME TO alert_state"))
    wait_until(lambda: api.get("/healthz").status_code == 200, 5, "/healthz to say ok again")
    assert api.get("/healthz").json()["cycles"]["evaluate"] == "ok"
