"""Queue trend: draining, growing, stalled, empty or unknown, from the last depth samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.trend import classify
from tests.support.models import orders_flow, write_model

EXTRA = """
      backlog:
        kind: depth
        description: Orders waiting for export.
        probe: {kind: push}
"""


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([900, 700, 400, 150], "draining"),
        ([10, 40, 90, 200], "growing"),
        ([120, 121, 120, 119, 120], "stalled"),
        ([0, 0, 0], "empty"),
        ([5, 3, 0], "draining"),
        ([500, 20], "unknown"),  # too few samples to tell
        ([500, 400, 300, None], "unknown"),  # the probe failed last
    ],
)
def test_classify(values: list[float | None], trend: str) -> None:
    assert classify(values) == trend


@pytest.fixture
def client(tmp_path: Path, clock: FakeClock) -> Iterator[TestClient]:
    model = write_model(tmp_path / "m", orders_flow("sqlite://", "SELECT 1", extra=EXTRA))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=SecretStr("t"))
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    yield TestClient(create_app(runtime, manage_runtime=False))
    runtime.stop()


def test_a_draining_backlog_shows_in_metrics_and_flows(client: TestClient, clock: FakeClock) -> None:
    for depth in (800, 600, 350, 100):
        client.post(
            "/api/v1/flows/orders/signals/backlog", json={"value": depth}, headers={"Authorization": "Bearer t"}
        )
        clock.advance(30)
    metrics = client.get("/metrics").text
    assert 'flowhealth_flow_queue_trend{flow="orders",signal="backlog",trend="draining"} 1.0' in metrics
    assert 'flowhealth_flow_queue_trend{flow="orders",signal="backlog",trend="growing"} 0.0' in metrics
    signal = next(s for s in client.get("/api/v1/flows").json()[0]["signals"] if s["signal"] == "backlog")
    assert signal["series"][0]["trend"] == "draining"
