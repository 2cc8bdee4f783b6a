"""The CLI and the state database: one incident number everywhere, the current `since`, state and
outputs kept out of the model directory, write commands on the database, quiet libraries under -v."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlmodel import Session, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from flowhealth.api.app import create_app
from flowhealth.cli.main import _logging, app
from flowhealth.clock import FakeClock
from flowhealth.model import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.statedir import default_state_url
from flowhealth.store.db import make_engine, transaction
from flowhealth.store.records import Intervention
from flowhealth.store.samples import Reading, record_readings
from tests.support.alerting_model import write_alerting_model

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def _observe(runtime: Runtime, flow: str, signal: str, value: float) -> None:
    with transaction(runtime.engine) as session:
        record_readings(session, flow, signal, [Reading(value)], runtime.clock.now(), "push")


@pytest.fixture
def two_incidents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Runtime, Path]:
    """orders-late fires (incident 1), then stock-stale (incident 2, its series' first firing)."""
    model_dir = tmp_path / "m"
    write_alerting_model(model_dir)
    rules = model_dir / "alert_rules/rules.yaml"  # stock-stale waits 10m before it fires
    rules.write_text(rules.read_text().replace("    above: 30m\n", "    above: 30m\n    for: 10m\n", 1))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    settings = Settings(database_url=url, api_token=SecretStr("t0ken-1234"))
    runtime = Runtime.build(
        settings, load_model(model_dir), clock=FakeClock(), registry=CollectorRegistry(), environ={}
    )
    _observe(runtime, "orders", "delay", 1800)
    runtime.evaluator.evaluate()
    _observe(runtime, "stock", "age", 7200)
    runtime.evaluator.evaluate()
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(timedelta(minutes=11))
    _observe(runtime, "stock", "age", 7200)
    runtime.evaluator.evaluate()
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", url)
    return runtime, model_dir


def test_the_same_incident_number_in_the_api_and_the_cli(two_incidents: tuple[Runtime, Path]) -> None:
    runtime, model_dir = two_incidents
    api = {
        a["rule"]: a["incident"]
        for a in TestClient(create_app(runtime, manage_runtime=False)).get("/api/v1/alerts").json()
    }
    cli = {
        a["rule"]: a["incident"]
        for a in json.loads(runner.invoke(app, ["alerts", "--json", "-m", str(model_dir)]).output)
    }
    incidents = json.loads(runner.invoke(app, ["incidents", "--json", "-m", str(model_dir)]).output)
    listed = {alert["rule"]: row["incident"] for row in incidents for alert in row["alerts"]}
    assert api["stock-stale"] == cli["stock-stale"] == listed["stock-stale"] == 2
    assert api["orders-late"] == cli["orders-late"] == listed["orders-late"] == 1
    table = runner.invoke(app, ["alerts", "-m", str(model_dir)]).output
    assert "#2" in table and "2h" in table  # the number, and the value in human units (not 7200)


def test_alerts_show_when_the_current_state_began(two_incidents: tuple[Runtime, Path]) -> None:
    runtime, model_dir = two_incidents
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    _observe(runtime, "stock", "age", 10)
    clock.advance(timedelta(hours=3))
    runtime.evaluator.evaluate()  # resolved
    clock.advance(timedelta(hours=3))
    _observe(runtime, "stock", "age", 7200)
    runtime.evaluator.evaluate()  # pending again: since is now, not the first firing 6h ago
    pending_since = clock.now()
    rows = {a["rule"]: a for a in json.loads(runner.invoke(app, ["alerts", "--json", "-m", str(model_dir)]).output)}
    assert (rows["stock-stale"]["state"], rows["stock-stale"]["since"]) == ("pending", pending_since.isoformat())
    clock.advance(timedelta(minutes=11))
    _observe(runtime, "stock", "age", 7200)
    runtime.evaluator.evaluate()
    rows = {a["rule"]: a for a in json.loads(runner.invoke(app, ["alerts", "--json", "-m", str(model_dir)]).output)}
    assert (rows["stock-stale"]["state"], rows["stock-stale"]["since"]) == ("firing", clock.now().isoformat())


def test_the_state_database_lives_outside_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWHEALTH_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    model_dir = tmp_path / "m"
    write_alerting_model(model_dir)
    result = runner.invoke(app, ["readiness", "-m", str(model_dir)])
    assert "Traceback" not in result.output
    assert not (model_dir / ".flowhealth").exists()
    expected = Path(default_state_url(model_dir).removeprefix("sqlite:///"))
    assert expected.parent == tmp_path / "state/flowhealth" and expected.is_file()
    assert expected.name.startswith("m-")
    chosen = tmp_path / "elsewhere.db"
    runner.invoke(app, ["--state", str(chosen), "readiness", "-m", str(model_dir)])
    assert chosen.is_file()


def test_generated_files_go_into_the_model_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = tmp_path / "m"
    write_alerting_model(model_dir)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["dashboards", "build", "-m", str(model_dir)]).exit_code == 0
    assert runner.invoke(app, ["export", "alertmanager", "-m", str(model_dir)]).exit_code == 0
    assert runner.invoke(app, ["export", "prometheus-rules", "-m", str(model_dir)]).exit_code == 0
    assert list((model_dir / "dashboards").glob("flowhealth-*.json"))
    assert (model_dir / "deploy/alertmanager/alertmanager.yml").is_file()
    assert list((model_dir / "deploy/prometheus/rules").glob("*.yml"))
    assert not (tmp_path / "dashboards").exists() and not (tmp_path / "deploy").exists()


def test_intervention_writes_the_state_database_like_ack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = tmp_path / "m"
    write_alerting_model(model_dir)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", url)
    monkeypatch.delenv("FLOWHEALTH_URL", raising=False)
    result = runner.invoke(
        app,
        ["intervention", "orders", "--reason", "resend", "--record", "SO-1", "--actor", "alice", "-m", str(model_dir)],
    )
    assert result.exit_code == 0, result.output
    with Session(make_engine(url)) as session:
        (row,) = session.exec(select(Intervention)).all()
    assert (row.flow, row.reason, row.record, row.actor) == ("orders", "resend", "SO-1", "alice")
    unknown = runner.invoke(app, ["intervention", "ordrs", "--reason", "resend", "--record", "x", "-m", str(model_dir)])
    assert unknown.exit_code == 1 and "no flow 'ordrs'" in unknown.output


def test_serve_verbose_logs_flowhealth_not_its_libraries() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        _logging(True)
        assert logging.getLogger("flowhealth.probes.runner").isEnabledFor(logging.INFO)
        for library in ("apscheduler.scheduler", "pika.adapters", "httpx", "uvicorn.access"):
            assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("flowhealth").setLevel(logging.NOTSET)


def test_probe_run_prints_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE shop_stock (sku TEXT, updated_at REAL)")
        conn.execute("INSERT INTO shop_stock VALUES ('A', strftime('%s','now') - 120)")
    monkeypatch.setenv("COMMERCE_DB_URL", f"sqlite:///{db}")
    result = runner.invoke(app, ["probe", "run", "inventory-sync", "stock_age", "--json", "-m", str(REPO)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    (signal,) = document["signals"]
    assert signal["outcome"] == "success" and signal["unit"] == "seconds"
    assert 115 <= signal["readings"][0]["value"] <= 200
