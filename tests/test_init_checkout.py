"""The checkout-throughput template: its baseline rule validates, probes, learns, fires, exports and draws its band."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.notices import IncidentView
from flowhealth.alerting.payload import Links
from flowhealth.cli.main import app
from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model, load_model
from flowhealth.model.baseline_rule import BaselineRule
from flowhealth.notify.console import render_incident
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import AlertState, OutboxMessage
from tests.support.models import copy_reference
from tests.support.services import MARIADB_URL, need, need_tool, port_open

runner = CliRunner()
INIT = [
    "init",
    "--no-interactive",
    "--team",
    "shop-team=#shop-alerts",
    "--system",
    "shop=commerce",
    "--system",
    "oms=oms",
    "--template",
    "checkout-throughput",
    "--timezone",
    "Europe/Berlin",
]
BELOW = "checkout-below-expected"
FRIDAY_3PM = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)  # Fri 15:00 in Berlin


def _cli(args: list[str], env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _checkout_model(root: Path, database: str = "postgresql") -> Model:
    _cli([*INIT, str(root), "--database", database])
    return load_model(root)


# Per database: the shop table's DDL and "n minutes ago" in its SQL, for rows the probe must count.
SHOP_TABLES = {
    "sqlite": ("TEXT", "datetime('now', '-{} minutes')"),
    "postgresql": ("timestamptz", "now() - interval '{} minutes'"),
    "mysql": ("DATETIME(6)", "UTC_TIMESTAMP(6) - INTERVAL {} MINUTE"),
}


@pytest.fixture
def mariadb_url() -> str:
    parsed = make_url(MARIADB_URL)
    need(port_open(parsed.host or "127.0.0.1", parsed.port or 3306), "MariaDB")
    return MARIADB_URL


def _shop_url(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    if database == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("mariadb_url"))


@pytest.mark.parametrize("database", list(SHOP_TABLES))
def test_init_validate_and_probe_count_recent_orders(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    url = _shop_url(database, tmp_path, request)
    column, ago = SHOP_TABLES[database]
    table = f"orders_{uuid.uuid4().hex[:8]}"  # MariaDB is one shared database
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id int, placed_at {column})"))
        # 30 orders in the last five minutes, one an hour ago that must not count.
        rows = [f"({n}, {ago.format(1 + n % 3)})" for n in range(30)] + [f"(99, {ago.format(60)})"]
        conn.execute(text(f"INSERT INTO {table} VALUES {', '.join(rows)}"))
    try:
        root = tmp_path / "m"
        _cli([*INIT, str(root), "--database", database])
        flow_file = root / "flows/checkout.yaml"
        flow_file.write_text(flow_file.read_text().replace("FROM orders", f"FROM {table}"))
        env = {"SHOP_DB_URL": url}
        assert "2 rules" in _cli(["validate", "-m", str(root)], env)
        out = _cli(["probe", "run", "checkout", "-m", str(root)], env)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
        engine.dispose()
    assert "checkout/order_rate: success" in out
    assert "0.10 records per second" in out  # 30 orders / 300 s


def test_the_model_has_a_calendar_in_the_shop_zone_and_rules_that_read_it(tmp_path: Path) -> None:
    said = _cli([*INIT, str(tmp_path)])
    assert (
        "the baseline rules learn for two weeks before they alert" in said
    )  # no waiting for an alert that cannot come
    model = load_model(tmp_path)
    assert model.calendars["shop"].timezone == "Europe/Berlin"
    rule = model.rules[BELOW]
    assert isinstance(rule, BaselineRule)
    assert model.calendar_of(rule) is model.calendars["shop"]
    assert model.flows["checkout"].failure_owners["checkout_down"] == "shop-team"
    # A second checkout flow shares the calendar instead of defining another one.
    _cli(["add", "flow", "-m", str(tmp_path), "--template", "checkout-throughput", "--flow", "checkout-at"])
    again = load_model(tmp_path)
    assert list(again.calendars) == ["shop"]
    assert "calendars:" not in (tmp_path / "flows/checkout-at.yaml").read_text()


def test_added_to_the_reference_deployment_it_reads_the_shops_own_calendar(tmp_path: Path) -> None:
    copy_reference(tmp_path)
    args = ["add", "flow", "-m", str(tmp_path), "--template", "checkout-throughput", "--flow", "checkout-at"]
    _cli([*args, "--owner", "commerce-platform", "--source", "commerce", "--target", "middleware"])
    model = load_model(tmp_path)
    rule = model.rules["checkout-at-below-expected"]
    assert isinstance(rule, BaselineRule)
    assert rule.baseline.calendar == "shop-de"  # Black Friday and Christmas apply to the new flow too
    assert list(model.calendars) == ["shop-de"]


def _seed(engine: Engine, weeks: list[int]) -> None:
    """One order per second every minute around Friday 15:00 in the given past weeks."""
    with transaction(engine) as session:
        for k in weeks:
            for minute in range(-30, 31):
                at = FRIDAY_3PM - timedelta(weeks=k, minutes=-minute)
                record_readings(session, "checkout", "order_rate", [Reading(1.0)], at, "sql")


def _orders_stop(model: Model, engine: Engine) -> str:
    """No orders from 14:50 on; the evaluator runs each minute until 15:00; the rule's state after."""
    clock = FakeClock(FRIDAY_3PM - timedelta(minutes=10))
    evaluator = Evaluator(model, engine, clock, Metrics(CollectorRegistry()), IncidentManager(model, Links("", "")))
    for _ in range(11):
        with transaction(engine) as session:
            record_readings(session, "checkout", "order_rate", [Reading(0.0)], clock.now(), "sql")
        evaluator.evaluate()
        clock.advance(timedelta(minutes=1))
    with Session(engine) as session:
        row = session.get(AlertState, (BELOW, "{}"))
    return row.state if row else "inactive"


def test_the_rule_learns_for_two_weeks_then_a_checkout_outage_alerts_with_money_at_risk(
    tmp_path: Path, state_engine: Engine
) -> None:
    model = _checkout_model(tmp_path)
    _seed(state_engine, [1])
    assert _orders_stop(model, state_engine) == "inactive"  # one week of history: learning, quiet
    _seed(state_engine, [2])
    assert _orders_stop(model, state_engine) == "firing"
    with Session(state_engine) as session:
        message = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).first()
    assert message is not None
    text_ = render_incident(IncidentView.model_validate(json.loads(message.payload)["view"]))
    assert "#shop-alerts" in text_
    # As the reference deployment's checkout rule shows it: expected band, deviation, weeks, money.
    assert "expected 1 (band 0.6-1), now 0 records per second: -100%; Fri 14:55, 2 weeks" in text_
    assert "about 180,000 EUR at risk per hour" in text_  # 1 order/s x 3,600 s x 50 EUR


def _promtool(*args: str) -> None:
    done = subprocess.run([need_tool("promtool"), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_exported_baseline_rule_is_quiet_while_learning_and_fires_on_a_drop_in_prometheus(tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    _checkout_model(tmp_path)
    _cli(["export", "prometheus-rules", "-m", str(tmp_path)])
    rules = tmp_path / "deploy/prometheus/rules"
    assert subprocess.run([promtool, "check", "rules", *map(str, sorted(rules.glob("*.rules.yml")))]).returncode == 0
    _promtool("test", "rules", str(rules / "flowhealth-alerts.test.yml"))
    exported = yaml.safe_load((rules / "flowhealth-baseline.rules.yml").read_text())
    assert {g["name"] for g in exported["groups"]} == {
        f"flowhealth-baseline-{BELOW}",
        "flowhealth-baseline-checkout-above-expected",
    }
    (tmp_path / "below.rules.yml").write_text(
        yaml.safe_dump({"groups": [g for g in exported["groups"] if g["name"].endswith(BELOW)]}, width=10**9)
    )
    # 5-minute samples: one order a second for two weeks, except 30 minutes without any on day 8
    # (one week of history: learning, so quiet), then none from the start of week 3.
    day, week = 288, 2016
    values = f"1x{8 * day - 1} 0x5 1x{2 * week - 8 * day - 7} 0x12"
    learned = f'count(flowhealth:baseline_expected{{rule="{BELOW}"}}) or vector(0)'
    firing = f'sum(ALERTS{{alertname="{BELOW}", alertstate="firing"}}) or vector(0)'
    test = {
        "rule_files": ["below.rules.yml"],
        "evaluation_interval": "5m",
        "tests": [
            {
                "interval": "5m",
                "input_series": [
                    {
                        "series": 'flowhealth_flow_throughput_records_per_second{flow="checkout", signal="order_rate"}',
                        "values": values,
                    }
                ],
                "promql_expr_test": [
                    {"expr": firing, "eval_time": "8d20m", "exp_samples": [{"labels": "{}", "value": 0}]},
                    {"expr": learned, "eval_time": "8d20m", "exp_samples": [{"labels": "{}", "value": 0}]},
                    {"expr": firing, "eval_time": "14d20m", "exp_samples": [{"labels": "{}", "value": 1}]},
                    {"expr": learned, "eval_time": "14d20m", "exp_samples": [{"labels": "{}", "value": 1}]},
                ],
            }
        ],
    }
    (tmp_path / "below.test.yml").write_text(yaml.safe_dump(test, width=10**9))
    _promtool("test", "rules", str(tmp_path / "below.test.yml"))


def test_the_flow_dashboard_draws_the_expected_band(tmp_path: Path) -> None:
    _checkout_model(tmp_path)
    _cli(["dashboards", "build", "-m", str(tmp_path)])
    (board,) = [p for p in (tmp_path / "dashboards").rglob("*.json") if "checkout" in p.name]
    exprs = [t["expr"] for panel in json.loads(board.read_text())["panels"] for t in panel.get("targets", [])]
    assert any("flowhealth_baseline_lower" in e and 'signal="order_rate"' in e for e in exprs)
    assert any("flowhealth_baseline_upper" in e for e in exprs)
