"""Prometheus rule files and Alertmanager configuration, checked by the real promtool and amtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.export import ALERTS_FILE, TESTS_FILE, ExportLinks, alertmanager_file, prometheus_files
from flowhealth.export.alertmanager import DEFAULT_TOKEN_FILE, default_team
from flowhealth.export.prometheus import alert_expr
from flowhealth.export.rule_tests import humanize, humanize_duration
from flowhealth.export.templates import NotTranslatable, translate
from flowhealth.model import Model
from tests.support.models import orders_flow, write_model
from tests.support.services import need_tool

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
ALERTMANAGER_YML = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
# The reference deployment's links: Grafana and flowhealth as docker-compose publishes them.
REFERENCE_LINKS = ExportLinks(grafana_url="http://localhost:3000", public_url="http://localhost:8000")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def write(files: dict[str, str], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    return out


def test_committed_exports_match_the_model(reference_model: Model) -> None:
    """CI fails on drift: regenerate and compare bytes."""
    for name, text in prometheus_files(reference_model, REFERENCE_LINKS).items():
        assert (RULES_DIR / name).read_text() == text, f"{name}: run `flowhealth export prometheus-rules`"
    assert ALERTMANAGER_YML.read_text() == alertmanager_file(reference_model, DEFAULT_TOKEN_FILE), (
        "run `flowhealth export alertmanager`"
    )


def test_cli_check_reports_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rules"
    args = ["export", "prometheus-rules", "-m", str(REPO), "--out", str(out)]
    assert runner.invoke(app, [*args, "--check"]).exit_code == 1
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
    (out / ALERTS_FILE).write_text("groups: []\n")
    result = runner.invoke(app, [*args, "--check"])
    assert result.exit_code == 1 and ALERTS_FILE in result.output


def test_rules_carry_owner_links_and_durations(reference_model: Model) -> None:
    groups = yaml.safe_load(prometheus_files(reference_model, REFERENCE_LINKS)[ALERTS_FILE])["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"]}
    # Baseline rules go to their own file, with the recording rules of their band (test_export_baseline.py).
    assert set(rules) == set(reference_model.rules) - set(reference_model.baseline_rules())
    delayed = rules["order-export-delayed"]
    assert delayed["expr"] == 'flowhealth_flow_delay_seconds{flow="order-export", signal="export_delay"} > 900'
    assert (delayed["for"], delayed["keep_firing_for"]) == ("5m", "2m")
    assert delayed["labels"] == {
        "severity": "critical",
        "team": "erp-basis",
        "flow": "order-export",
        "signal": "export_delay",
    }
    assert delayed["annotations"] == {
        "summary": "Orders are not reaching the ERP: the oldest paid order has waited {{ $value | humanizeDuration }}",
        "description": " ".join(reference_model.rules["order-export-delayed"].business_impact.split()),
        "runbook_url": "http://localhost:8000/runbooks/order-export-delay",
        "dashboard_url": "http://localhost:3000/d/flowhealth-flow-order-export/?var-flow=order-export",
    }
    assert rules["settlement-mismatch"]["annotations"]["summary"] == (
        "{{ $value | humanize }} {{ $labels.currency }} settlements do not match the ERP ledger"
    )
    # price-import-stale has no threshold: the next-cycle latency class default (26h) applies, as in flowhealth.
    assert rules["price-import-stale"]["expr"].endswith("> 93600")
    assert "ALERTS{" in alert_expr(reference_model, "erp-unreachable")


def test_promtool_checks_and_unit_tests_the_rules(reference_model: Model, tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    out = write(prometheus_files(reference_model, REFERENCE_LINKS), tmp_path)
    checked = run(promtool, "check", "rules", *(str(p) for p in sorted(out.glob("*.rules.yml"))))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    cases = yaml.safe_load((out / TESTS_FILE).read_text())["tests"]
    names = {c["name"] for c in cases}
    for rule in set(reference_model.rules) - set(reference_model.baseline_rules()):
        assert {
            f"{rule}: fires once breached for its 'for'",
            f"{rule}: stays quiet on the safe side of the threshold",
        } <= names
    assert "erp-unreachable: hysteresis: holds between recovery_threshold and threshold, clears past it" in names
    assert "order-export-delayed: keeps firing for keep_firing_for after it clears" in names


def test_the_generated_tests_catch_a_wrong_threshold(reference_model: Model, tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    out = write(prometheus_files(reference_model, REFERENCE_LINKS), tmp_path)
    rules = out / ALERTS_FILE
    rules.write_text(rules.read_text().replace("> 900", "> 1000"))
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert tested.returncode != 0 and "order-export-delayed: fires once breached" in tested.stdout + tested.stderr


def test_committed_promql_files_pass_promtool() -> None:
    promtool = need_tool("promtool")
    tested = run(promtool, "test", "rules", str(RULES_DIR / TESTS_FILE))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize(
    ("jinja", "go"),
    [
        ("waited {{ value | duration }}", "waited {{ $value | humanizeDuration }}"),
        ("{{ value | number }} {{ labels.currency }}", "{{ $value | humanize }} {{ $labels.currency }}"),
        ("{{ labels['reason'] }} on {{ flow }} ({{ owner }})", "{{ $labels.reason }} on orders (shop-team)"),
        ("above {{ threshold | duration }}", "above 15m"),
        ("{{ value }} {{ unit }}", "{{ $value }} seconds"),
    ],
)
def test_templates_translate_to_prometheus(jinja: str, go: str) -> None:
    literals = {"flow": "orders", "owner": "shop-team", "unit": "seconds", "threshold|duration": "15m"}
    assert translate(jinja, literals) == go


@pytest.mark.parametrize("jinja", ["since {{ since }}", "{% if value > 3 %}many{% endif %}", "{{ value * 2 }}"])
def test_untranslatable_templates_are_refused(jinja: str) -> None:
    with pytest.raises(NotTranslatable):
        translate(jinja, {})


def test_python_twins_of_prometheus_humanize() -> None:
    assert [humanize(v) for v in (0, 26, 1000, 1234567)] == ["0", "26", "1k", "1.235M"]
    assert [humanize_duration(v) for v in (0, 42, 960, 3660, 93600)] == [
        "0s",
        "42s",
        "16m 0s",
        "1h 1m 0s",
        "1d 2h 0m 0s",
    ]


def test_alertmanager_config_routes_every_team_to_its_slack_channel(reference_model: Model, tmp_path: Path) -> None:
    amtool = need_tool("amtool")
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_file(reference_model, DEFAULT_TOKEN_FILE))
    checked = run(amtool, "check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for team in sorted(reference_model.teams):
        for flow in ("order-export", "product-data"):
            routed = run(amtool, "config", "routes", "test", f"--config.file={config}", f"team={team}", f"flow={flow}")
            assert routed.stdout.strip() == team, routed.stdout + routed.stderr
    unknown = run(amtool, "config", "routes", "test", f"--config.file={config}", "team=nobody")
    assert unknown.stdout.strip() == default_team(reference_model) == "integration-leads"
    document = yaml.safe_load(config.read_text())
    receivers = {r["name"]: r["slack_configs"][0] for r in document["receivers"]}
    assert receivers["finance-ops"]["channel"] == "#finance-ops-alerts"
    for receiver in receivers.values():
        assert receiver["http_config"]["authorization"]["credentials_file"] == DEFAULT_TOKEN_FILE
    assert "xox" not in config.read_text()
    assert document["route"]["group_by"] == ["flow"]


def test_inhibition_and_maintenance_windows(reference_model: Model) -> None:
    document = yaml.safe_load(alertmanager_file(reference_model, DEFAULT_TOKEN_FILE))
    [inhibit] = document["inhibit_rules"]
    assert inhibit["source_matchers"] == ['alertname="erp-unreachable"']
    touching = "|".join(reference_model.flows_touching("erp"))
    assert inhibit["target_matchers"] == [f'flow=~"{touching}"']
    assert "product-data" not in touching
    [window] = document["time_intervals"]
    assert window == {
        "name": "erp-weekly-maintenance",
        "time_intervals": [
            {
                "weekdays": ["sunday"],
                "times": [{"start_time": "02:00", "end_time": "04:00"}],
                "location": "Europe/Berlin",
            }
        ],
    }
    erp_basis = next(r for r in document["route"]["routes"] if r["receiver"] == "erp-basis")
    muted = [r for r in erp_basis["routes"] if r.get("mute_time_intervals") == ["erp-weekly-maintenance"]]
    assert {m for r in muted for m in r["matchers"]} >= {'alertname="erp-unreachable"', f'flow=~"{touching}"'}


def test_a_window_across_midnight_becomes_two_intervals(tmp_path: Path) -> None:
    amtool = need_tool("amtool")
    flows = (
        orders_flow("sqlite:///x.db", "SELECT 1")
        + """
maintenance_windows:
  nightly:
    systems: [erp]
    timezone: America/New_York
    weekdays: [sat, sun]
    start: "23:00"
    end: "01:30"
    reason: Nightly batch
"""
    )
    model = write_model(tmp_path / "m", flows)
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_file(model, "/secrets/token"))
    assert run(amtool, "check-config", str(config)).returncode == 0
    [window] = yaml.safe_load(config.read_text())["time_intervals"]
    assert window["time_intervals"] == [
        {
            "weekdays": ["saturday", "sunday"],
            "times": [{"start_time": "23:00", "end_time": "24:00"}],
            "location": "America/New_York",
        },
        {
            "weekdays": ["sunday", "monday"],
            "times": [{"start_time": "00:00", "end_time": "01:30"}],
            "location": "America/New_York",
        },
    ]
