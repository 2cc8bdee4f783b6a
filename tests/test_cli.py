"""The command line: validate, schema, probe run, and --help everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.model import load_model
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_validate_reference_deployment() -> None:
    result = runner.invoke(app, ["validate", "-m", str(REPO)])
    assert result.exit_code == 0, result.output
    model = load_model(REPO)
    assert result.output.startswith(
        f"ok: {len(model.teams)} teams, {len(model.systems)} systems, {len(model.flows)} flows"
    )


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    copy_reference(tmp_path)
    rules = tmp_path / "alert_rules/orders.yaml"
    rules.write_text(
        rules.read_text()
        .replace("    for: 5m\n", "    for: soon\n")
        .replace("runbook: refund-delay", "runbook: refunds")
    )
    result = runner.invoke(app, ["validate", "-m", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any(
        line.startswith("alert_rules/orders.yaml:")
        and ": rules.order-export-delayed.for: 'soon' is not a duration" in line
        for line in lines
    )
    assert lines[-1] == f"1 problem(s) in {tmp_path}" or lines[-1].endswith(f"problem(s) in {tmp_path}")


def test_validate_rejects_a_directory_without_flows(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "-m", str(tmp_path)])
    assert result.exit_code == 1
    assert "no flows/ directory" in result.output


def test_schema_is_json_schema_of_the_model_files() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"teams", "systems", "connections", "flows"} <= set(schema["properties"])
    rules = json.loads(runner.invoke(app, ["schema", "--kind", "rules"]).output)
    assert "rules" in rules["properties"]


def test_probe_run_prints_values_and_outcomes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    db = tmp_path / "c.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE shop_stock (sku TEXT, updated_at REAL)")
        conn.execute("INSERT INTO shop_stock VALUES ('A', strftime('%s','now') - 120)")
    monkeypatch.setenv("COMMERCE_DB_URL", f"sqlite:///{db}")
    result = runner.invoke(app, ["probe", "run", "inventory-sync", "stock_age", "--model-dir", str(REPO)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("inventory-sync/stock_age: success in ")
    value = result.output.splitlines()[1].strip()
    assert value in {"2m", "2m 1s", "2m 2s", "2m 3s"}  # human units, never "120.4 seconds"


def test_probe_run_reports_failures_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMMERCE_DB_URL", raising=False)
    result = runner.invoke(app, ["probe", "run", "inventory-sync", "stock_age", "--model-dir", str(REPO)])
    assert result.exit_code == 1
    assert "error after" in result.output and "COMMERCE_DB_URL is not set" in result.output
    assert result.output.count("COMMERCE_DB_URL is not set") == 1  # once, not again from the log


@pytest.mark.parametrize(
    "command", [[], ["validate"], ["schema"], ["serve"], ["demo"], ["probe"], ["probe", "run"], ["alerts"]]
)
def test_every_command_explains_itself(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_ack_and_silence_from_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowhealth.clock import SystemClock
    from tests.support.alerting import make_rig
    from tests.support.alerting_model import write_alerting_model

    model_dir = tmp_path / "m"
    rig = make_rig(write_alerting_model(model_dir), tmp_path, SystemClock())  # type: ignore[arg-type]
    rig.observe("orders", "delay", 1800)
    rig.evaluator.evaluate()
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    listed = runner.invoke(app, ["incidents", "-m", str(model_dir)])
    assert listed.exit_code == 0 and "shop-team" in listed.output and "orders-late(firing)" in listed.output
    acked = runner.invoke(app, ["ack", "orders-late", "--as", "alice", "--for", "30m", "-m", str(model_dir)])
    assert acked.exit_code == 0 and acked.output.strip() == "acknowledged incident 1 for 30m"
    assert rig.messages()[-1]["thread_line"].startswith(":eyes: Acknowledged by alice until ")
    created = runner.invoke(
        app,
        [
            "silence",
            "create",
            "--system",
            "erp",
            "--for",
            "2h",
            "--reason",
            "cutover",
            "--as",
            "ops",
            "-m",
            str(model_dir),
        ],
    )
    assert created.exit_code == 0 and created.output.startswith("silence 1 until ")
    listed = runner.invoke(app, ["silence", "list", "-m", str(model_dir)])
    assert '{"system": "erp"}' in listed.output and "by ops" in listed.output
    bad = runner.invoke(app, ["silence", "create", "--flow", "nope", "--reason", "x", "-m", str(model_dir)])
    assert bad.exit_code == 1 and "unknown flow 'nope'" in bad.output
    missing = runner.invoke(app, ["resolve", "42", "-m", str(model_dir)])
    assert missing.exit_code == 1 and "no incident 42" in missing.output


def test_validate_keeps_the_positional_directory_as_a_deprecated_alias() -> None:
    result = runner.invoke(app, ["validate", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "deprecated; use `flowhealth validate -m DIR`" in result.output
