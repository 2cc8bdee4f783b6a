"""Prometheus rule files and Alertmanager configuration, checked by the real promtool and amtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.errors import ModelError
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
    assert set(rules) == {*reference_model.rules, "probe-failing"} - set(reference_model.baseline_rules())
    delayed = rules["order-export-delayed"]
    series = 'flowhealth_flow_delay_seconds{flow="order-export", signal="export_delay"}'
    assert delayed["expr"] == (
        f"{series} > 900 or (last_over_time({series}[1d])"
        ' and ignoring (alertname, alertstate, severity, team) ALERTS{alertname="order-export-delayed", alertstate="firing"}'
        ' and on (flow, signal) (flowhealth_probe_up{flow="order-export", signal="export_delay"} == 0))'
    )
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
        "value": "{{ $value | humanizeDuration }}",
        "runbook_url": "http://localhost:8000/runbooks/order-export-delay",
        "dashboard_url": "http://localhost:3000/d/flowhealth-flow-order-export/?var-flow=order-export",
    }
    assert rules["settlement-mismatch"]["annotations"]["summary"] == (
        "{{ $value | humanize }} {{ $labels.currency }} settlements do not match the ERP ledger"
    )
    # price-import-stale has no threshold: the next-cycle latency class default (26h) applies, as in flowhealth.
    assert rules["price-import-stale"]["expr"].startswith(
        'flowhealth_flow_staleness_seconds{flow="price-sync", signal="price_age"} > 93600 or '
    )
    assert "ALERTS{" in alert_expr(reference_model, "erp-unreachable")


def test_probe_failing_alerts_are_exported_per_probed_signal_and_owned_like_flowhealths(reference_model: Model) -> None:
    groups = yaml.safe_load(prometheus_files(reference_model, REFERENCE_LINKS)[ALERTS_FILE])["groups"]
    failing = [r for g in groups for r in g["rules"] if r["alert"] == "probe-failing"]
    builtin = reference_model.builtin_rules
    assert {(r["labels"]["flow"], r["labels"]["signal"]) for r in failing} == {
        (b.flow, b.signal) for b in builtin.values()
    }
    export_delay = next(r for r in failing if r["labels"]["signal"] == "export_delay")
    assert (
        export_delay["expr"]
        == 'flowhealth_probe_consecutive_failures{flow="order-export", signal="export_delay"} > 2.5'
    )
    assert export_delay["labels"]["team"] == reference_model.rule_owner("probe-failing:order-export/export_delay")
    assert export_delay["annotations"]["runbook_url"] == "http://localhost:8000/runbooks/probe-failing"


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
            f"{rule}: fires at the first evaluation its 'for' has passed",
            f"{rule}: stays quiet on the safe side of the threshold",
            f"{rule}: stays quiet at the threshold itself",
            f"{rule}: keeps firing for keep_firing_for from the first false evaluation, then resolves",
        } <= names
    assert "erp-unreachable: hysteresis: holds at the threshold, clears at recovery_threshold" in names
    assert "order-export-delayed: holds while the probe is down, resolves once it measures a cleared value" in names
    assert "probe-failing order-export/export_delay: fires at failed run 3, resolves when it works" in names


def test_generated_tests_pin_keep_firing_for_and_the_hysteresis_band(reference_model: Model, tmp_path: Path) -> None:
    """Shortening keep_firing_for by one minute, or moving the recovery threshold, fails the tests."""
    promtool = need_tool("promtool")
    out = write(prometheus_files(reference_model, REFERENCE_LINKS), tmp_path)
    rules = out / ALERTS_FILE
    original = rules.read_text()
    rules.write_text(original.replace("keep_firing_for: 2m", "keep_firing_for: 1m"))
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert "order-export-delayed: keeps firing for keep_firing_for" in tested.stdout + tested.stderr
    rules.write_text(original.replace("> 60 and ignoring", "> 30 and ignoring"))  # a narrower band
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert "erp-unreachable: hysteresis" in tested.stdout + tested.stderr


def test_the_generated_tests_catch_a_wrong_threshold(reference_model: Model, tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    out = write(prometheus_files(reference_model, REFERENCE_LINKS), tmp_path)
    rules = out / ALERTS_FILE
    rules.write_text(rules.read_text().replace("> 900", "> 1000"))
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert (
        tested.returncode != 0
        and "order-export-delayed: fires at the first evaluation" in tested.stdout + tested.stderr
    )


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


def test_a_no_data_rule_is_exported_and_its_generated_test_passes(tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    rules = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    for: 1m
    no_data: alerting
    no_data_after: 3m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
"""
    model = write_model(tmp_path / "m", orders_flow("sqlite:///x.db", "SELECT 1"), rules)
    files = prometheus_files(model, REFERENCE_LINKS)
    twins = [r for g in yaml.safe_load(files[ALERTS_FILE])["groups"] for r in g["rules"] if r["alert"] == "orders-late"]
    no_data = next(r for r in twins if r["labels"].get("reason") == "no_data")
    assert no_data["expr"] == (
        'flowhealth_probe_up{flow="orders", signal="delay"} == 0'
        ' unless on (flow, signal) ALERTS{alertname="orders-late", alertstate="firing", reason!="no_data"}'
    )
    assert no_data["for"] == "3m" and no_data["labels"]["team"] == "shop-team"
    out = write(files, tmp_path / "rules")
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    names = [case["name"] for case in yaml.safe_load((out / TESTS_FILE).read_text())["tests"]]
    assert "orders-late: fires 'no data' once the probe has failed for no_data_after" in names


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("22:00", "24:00", [(["friday"], "22:00", "24:00")]),
        ("22:00", "00:00", [(["friday"], "22:00", "24:00")]),
        ("00:00", "24:00", [(["friday"], "00:00", "24:00")]),
        ("22:00", "02:30", [(["friday"], "22:00", "24:00"), (["saturday"], "00:00", "02:30")]),
    ],
)
def test_windows_ending_at_or_crossing_midnight_export_as_intervals_amtool_accepts(
    tmp_path: Path, start: str, end: str, expected: list[tuple[list[str], str, str]]
) -> None:
    amtool = need_tool("amtool")
    window = f"""
maintenance_windows:
  late:
    systems: [erp]
    timezone: Europe/Berlin
    weekdays: [fri]
    start: "{start}"
    end: "{end}"
    reason: Late batch
"""
    model = write_model(tmp_path / "m", orders_flow("sqlite:///x.db", "SELECT 1") + window)
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_file(model, "/secrets/token"))
    checked = run(amtool, "check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [exported] = yaml.safe_load(config.read_text())["time_intervals"]
    assert [
        (i["weekdays"], i["times"][0]["start_time"], i["times"][0]["end_time"]) for i in exported["time_intervals"]
    ] == expected


def test_a_window_of_no_length_is_refused_with_its_location(tmp_path: Path) -> None:
    window = """
maintenance_windows:
  empty:
    systems: [erp]
    timezone: Europe/Berlin
    weekdays: [fri]
    start: "00:00"
    end: "00:00"
    reason: Nothing
"""
    root = tmp_path / "m"
    with pytest.raises(ModelError) as error:
        write_model(root, orders_flow("sqlite:///x.db", "SELECT 1") + window)
    assert "maintenance_windows.empty.end" in str(error.value) and "00:00 to 24:00" in str(error.value)


def test_generated_tests_pass_for_hysteresis_with_keep_firing_for_and_below_rules(tmp_path: Path) -> None:
    """The case issue 20 found: recovery_threshold and keep_firing_for together (and a 'below' twin)."""
    promtool = need_tool("promtool")
    rules = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    recovery_threshold: 5m
    for: 3m
    keep_firing_for: 90s
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
  orders-too-fresh:
    flow: orders
    signal: delay
    below: 60
    recovery_threshold: 120
    for: 2m
    keep_firing_for: 3m
    severity: info
    summary: "Oldest order waits only {{ value }} s"
    business_impact: None.
    runbook: orders-late
"""
    model = write_model(tmp_path / "m", orders_flow("sqlite:///x.db", "SELECT 1"), rules)
    out = write(prometheus_files(model, REFERENCE_LINKS), tmp_path / "rules")
    tested = run(promtool, "test", "rules", str(out / TESTS_FILE))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    names = [case["name"] for case in yaml.safe_load((out / TESTS_FILE).read_text())["tests"]]
    for rule in ("orders-late", "orders-too-fresh"):
        assert f"{rule}: hysteresis: holds at the threshold, clears at recovery_threshold" in names
        assert f"{rule}: keeps firing for keep_firing_for from the first false evaluation, then resolves" in names
