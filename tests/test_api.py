"""The HTTP API: health, metrics (checked by the real promtool), runbooks, alerts."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.model import Model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import make_engine
from tests.support.models import orders_flow, write_model
from tests.support.services import need_tool

RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Paid orders are not shipped today.
    runbook: orders-late
"""


@pytest.fixture
def model(tmp_path: Path) -> Model:
    db = tmp_path / "shop.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (placed_at REAL)")
        conn.execute("INSERT INTO orders VALUES (?)", (FakeClock().now().timestamp() - 1800,))
    return write_model(
        tmp_path / "m", orders_flow(f"sqlite:///{db}", "SELECT :now - MIN(placed_at) FROM orders"), RULES
    )


@pytest.fixture
def runtime(model: Model, tmp_path: Path, clock: FakeClock) -> Runtime:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="http://fh.test")
    return Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})


def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime, manage_runtime=False))


def test_healthz_reports_database_and_scheduler(runtime: Runtime) -> None:
    response = client(runtime).get("/healthz")
    assert response.status_code == 200
    report = response.json()
    assert report.pop("replica") == {
        "id": runtime.cluster.replica_id,
        "role": "single",
        "replicas": 1,
        "probes": ["orders/delay"],
    }  # type: ignore[union-attr]
    assert report == {"status": "ok", "database": "ok", "scheduler": "stopped", "cycles": {}}


def test_healthz_is_503_when_the_database_is_gone(runtime: Runtime) -> None:
    runtime.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client(runtime).get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["database"].startswith("unreachable")


def test_metrics_show_signals_probes_and_alerts(runtime: Runtime) -> None:
    runtime.runner.run("orders", "delay")
    runtime.evaluator.evaluate()
    body = client(runtime).get("/metrics").text
    assert 'flowhealth_flow_delay_seconds{flow="orders",signal="delay"} 1800.0' in body
    assert 'flowhealth_probe_up{flow="orders",kind="sql",signal="delay"} 1.0' in body
    assert 'flowhealth_probe_runs_total{flow="orders",kind="sql",outcome="success",signal="delay"} 1.0' in body
    assert (
        'flowhealth_alerts{alertname="orders-late",alertstate="firing",flow="orders",severity="critical",signal="delay",team="shop-team"} 1.0'
        in body
    )
    assert (
        'flowhealth_rule_threshold{alertname="orders-late",direction="above",flow="orders",severity="critical",signal="delay"} 900.0'
        in body
    )
    assert "flowhealth_outbox_pending_messages 1.0" in body


def test_a_failed_probe_makes_the_signal_absent_not_frozen(runtime: Runtime, model: Model) -> None:
    runtime.runner.run("orders", "delay")
    # Restarted with the database URL in an environment variable this process does not have.
    gone = model.connections["shop_db"].model_copy(update={"url": "${GONE}"})
    runtime.stop()
    runtime = Runtime.build(
        runtime.settings,
        replace(model, connections={**model.connections, "shop_db": gone}),
        clock=runtime.clock,
        engine=runtime.engine,
        registry=CollectorRegistry(),
        environ={},
    )
    assert runtime.runner.run("orders", "delay").outcome.value == "error"
    body = client(runtime).get("/metrics").text
    assert "flowhealth_flow_delay_seconds{" not in body
    assert 'flowhealth_probe_up{flow="orders",kind="sql",signal="delay"} 0.0' in body


def test_metrics_pass_promtool_check_metrics(runtime: Runtime) -> None:
    promtool = need_tool("promtool")
    runtime.runner.run("orders", "delay")
    runtime.evaluator.evaluate()
    body = client(runtime).get("/metrics").content
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == ""


def test_runbooks_are_served_as_html_and_as_markdown(runtime: Runtime) -> None:
    page = client(runtime).get("/runbooks/orders-late")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h2>Recovery steps</h2>" in page.text and 'id="live"' in page.text
    response = client(runtime).get("/runbooks/orders-late?format=markdown")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert "## Recovery steps" in response.text
    asked = client(runtime).get("/runbooks/orders-late", headers={"Accept": "text/markdown"})
    assert asked.headers["content-type"].startswith("text/markdown")
    builtin = client(runtime).get("/runbooks/probe-failing?format=markdown")
    assert builtin.status_code == 200 and "## Recovery steps" in builtin.text
    missing = client(runtime).get("/runbooks/nope")
    assert missing.status_code == 404 and missing.json() == {"detail": "no runbook 'nope'"}


def test_alerts_and_flows_endpoints(runtime: Runtime) -> None:
    runtime.runner.run("orders", "delay")
    runtime.evaluator.evaluate()
    api = client(runtime)
    [alert] = api.get("/api/v1/alerts").json()
    assert (alert["rule"], alert["state"], alert["owner"], alert["value"]) == (
        "orders-late",
        "firing",
        "shop-team",
        1800.0,
    )
    [flow] = api.get("/api/v1/flows").json()
    assert flow["signals"][0]["series"][0]["value"] == 1800.0
    assert flow["signals"][0]["probe_outcome"] == "success"
