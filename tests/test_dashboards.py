"""Generated dashboards: committed and deterministic, modern JSON, and lint-clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from flowhealth.api.app import create_app
from flowhealth.cli.main import app
from flowhealth.dashboards import build_dashboards
from flowhealth.dashboards.lint import check_ids, check_layout, check_links, check_variables, expressions, panels
from flowhealth.export.recording import FLOW_DASHBOARD_INFO, RECORDED, recording_rules
from flowhealth.links import OVERVIEW_UID, flow_dashboard_uid
from flowhealth.metric_names import SIGNAL_METRICS
from flowhealth.model import Model, load_model
from flowhealth.settings import Settings
from tests.support.demo_stack import build_demo_stack
from tests.support.promql import metric_names, substitute
from tests.support.services import need_tool

REPO = Path(__file__).resolve().parent.parent
DYNAMIC_UID = "${__data.fields.dashboard_uid}"
# The reference deployment's settings, whatever FLOWHEALTH_* the environment holds.
SETTINGS = Settings(public_url="http://localhost:8000", runbook_base_url=None)


@pytest.fixture(scope="module")
def scraped_metric_names(reference_model: Model, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Sample names of a real /metrics scrape of the reference deployment with data and a firing alert."""
    stack = build_demo_stack(reference_model, tmp_path_factory.mktemp("scrape"))
    stack.break_things()
    stack.tick(60)
    body = TestClient(create_app(stack.runtime, manage_runtime=False)).get("/metrics").text
    stack.runtime.stop()
    families = list(text_string_to_metric_families(body))
    # A gauge family without samples (no alert firing yet) is still declared, with HELP and TYPE.
    return {s.name for f in families for s in f.samples} | {f.name for f in families if f.type == "gauge"}


def generated(model: Model) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in build_dashboards(model, SETTINGS.runbook_url).items()}


@pytest.fixture(scope="module")
def dashboards(reference_model: Model) -> dict[str, dict[str, Any]]:
    return generated(reference_model)


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """What Grafana would put in for each variable, as a test query would see it."""
    values = {"__range": "1h", "__rate_interval": "1m", "__interval": "15s", "team": ".+", "flow": ".+"}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "constant":
            values[variable["name"]] = variable["query"]
    return values


def test_committed_dashboards_match_the_model() -> None:
    result = CliRunner().invoke(
        app,
        [
            "dashboards",
            "build",
            "--check",
            "-m",
            str(REPO),
            "--out",
            str(REPO / "dashboards"),
            "--public-url",
            "http://localhost:8000",
        ],
    )
    assert result.exit_code == 0, result.output


def test_check_lists_changed_missing_and_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "dashboards"
    shutil.copytree(REPO / "dashboards", out)
    (out / f"{OVERVIEW_UID}.json").write_text("{}\n")
    (out / f"{flow_dashboard_uid('refunds')}.json").unlink()
    (out / "flowhealth-flow-gone.json").write_text("{}\n")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["dashboards", "build", "--check", "-m", str(REPO), "--out", str(out), "--public-url", "http://localhost:8000"],
    )
    assert result.exit_code == 1
    for name in (f"{OVERVIEW_UID}.json", "flowhealth-flow-refunds.json", "flowhealth-flow-gone.json"):
        assert name in result.output
    assert (
        runner.invoke(
            app, ["dashboards", "build", "-m", str(REPO), "--out", str(out), "--public-url", "http://localhost:8000"]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            app,
            [
                "dashboards",
                "build",
                "--check",
                "-m",
                str(REPO),
                "--out",
                str(out),
                "--public-url",
                "http://localhost:8000",
            ],
        ).exit_code
        == 0
    )
    assert not (out / "flowhealth-flow-gone.json").exists()


def test_same_model_same_bytes(reference_model: Model) -> None:
    first = build_dashboards(reference_model, SETTINGS.runbook_url)
    second = build_dashboards(load_model(REPO), SETTINGS.runbook_url)
    assert first == second
    for text in first.values():
        assert (
            text.endswith("}\n")
            and text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_one_overview_and_one_dashboard_per_flow_with_the_uids_alerts_link_to(
    dashboards: dict[str, dict[str, Any]], reference_model: Model
) -> None:
    uids = {d["uid"] for d in dashboards.values()}
    assert uids == {OVERVIEW_UID, *(flow_dashboard_uid(f) for f in reference_model.flows)}
    for name, dashboard in dashboards.items():
        assert name == f"{dashboard['uid']}.json"
        assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])


def test_modern_json_with_the_datasource_as_a_variable(dashboards: dict[str, dict[str, Any]]) -> None:
    for dashboard in dashboards.values():
        text = json.dumps(dashboard)
        assert dashboard["schemaVersion"] >= 39
        assert "${DS_" not in text and "__inputs" not in dashboard and "rows" not in dashboard
        [datasource] = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
        assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
        for panel in panels(dashboard):
            if panel["type"] not in ("row", "text"):
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])


def test_every_panel_says_what_it_means(dashboards: dict[str, dict[str, Any]]) -> None:
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            if panel["type"] != "row":
                assert len(panel.get("description", "").split()) >= 6, panel["title"]


@pytest.mark.parametrize(
    "check", [check_ids, check_layout, check_variables], ids=["unique-ids", "grid", "variables-defined-and-used"]
)
def test_lint(dashboards: dict[str, dict[str, Any]], check: Any) -> None:
    problems = [f"{name}: {p}" for name, d in dashboards.items() for p in check(d)]
    assert problems == []


def test_the_overview_has_datasource_team_and_flow_variables(dashboards: dict[str, dict[str, Any]]) -> None:
    names = [v["name"] for v in dashboards[f"{OVERVIEW_UID}.json"]["templating"]["list"]]
    assert names == ["datasource", "team", "flow"]


def test_every_link_points_at_a_generated_dashboard(
    dashboards: dict[str, dict[str, Any]], reference_model: Model
) -> None:
    uids = {d["uid"] for d in dashboards.values()}
    problems = [f"{name}: {p}" for name, d in dashboards.items() for p in check_links(d, uids, {DYNAMIC_UID})]
    assert problems == []
    # The status table links through the uid recorded for each flow; those must be generated uids too.
    [group] = recording_rules(reference_model)
    recorded = {r["labels"]["dashboard_uid"] for r in group["rules"] if r["record"] == FLOW_DASHBOARD_INFO}
    assert recorded == uids - {OVERVIEW_UID}
    overview = dashboards[f"{OVERVIEW_UID}.json"]
    assert any("${__url_time_range}" in url for p in panels(overview) for url in _override_links(p))
    for name, dashboard in dashboards.items():
        if name != f"{OVERVIEW_UID}.json":
            back = [link for link in dashboard["links"] if link.get("url", "").startswith(f"/d/{OVERVIEW_UID}")]
            assert back and back[0]["keepTime"] is True


def _override_links(panel: dict[str, Any]) -> list[str]:
    return [
        link["url"]
        for override in panel.get("fieldConfig", {}).get("overrides", [])
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]


def test_flow_dashboards_link_their_runbooks_and_name_the_owner(
    dashboards: dict[str, dict[str, Any]], reference_model: Model
) -> None:
    settings = SETTINGS
    for rule in reference_model.rules.values():
        dashboard = dashboards[f"{flow_dashboard_uid(rule.flow)}.json"]
        assert settings.runbook_url(rule.runbook) in [link["url"] for link in dashboard["links"]]
        about = next(p for p in panels(dashboard) if p["type"] == "text")
        assert f"`{reference_model.flows[rule.flow].owner}`" in about["options"]["content"]


def test_every_expression_parses_and_reads_only_exported_metrics(
    dashboards: dict[str, dict[str, Any]], scraped_metric_names: set[str]
) -> None:
    known = scraped_metric_names | {name for name, _ in SIGNAL_METRICS.values()} | set(RECORDED)
    problems = []
    for name, dashboard in dashboards.items():
        for where, expr in expressions(dashboard):
            try:
                unknown = metric_names(substitute(expr, variable_values(dashboard))) - known
            except ValueError as exc:
                problems.append(f"{name} {where}: does not parse: {exc}")
                continue
            if unknown:
                problems.append(f"{name} {where}: reads metrics flowhealth does not export: {sorted(unknown)}")
    assert problems == []


def test_promtool_accepts_every_dashboard_expression(dashboards: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    promtool = need_tool("promtool")
    rules = [
        {"record": f"dashboard:expr_{i}:check", "expr": substitute(expr, variable_values(d))}
        for i, (d, (_, expr)) in enumerate((d, e) for d in dashboards.values() for e in expressions(d))
    ]
    path = tmp_path / "dashboard-expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_panel_ids_do_not_shift_when_a_signal_is_added(tmp_path: Path, dashboards: dict[str, dict[str, Any]]) -> None:
    model_dir = tmp_path / "model"
    for part in ("flows", "alert_rules", "runbooks", "contracts"):
        shutil.copytree(REPO / part, model_dir / part)
    orders = model_dir / "flows" / "orders.yaml"
    orders.write_text(
        orders.read_text().replace(
            "    signals:\n      export_delay:",
            "    signals:\n      a_first_signal:\n        kind: retries\n        description: Retries of the order export.\n"
            "        probe: {kind: sql, connection: commerce_db, query: SELECT 1}\n      export_delay:",
            1,
        )
    )
    after = generated(load_model(model_dir))
    for name, before in dashboards.items():
        old = {p["title"]: p["id"] for p in panels(before)}
        new = {p["title"]: p["id"] for p in panels(after[name])}
        assert {t: new[t] for t in old} == old, name
    assert len(list(panels(after[f"{flow_dashboard_uid('order-export')}.json"]))) > len(
        list(panels(dashboards[f"{flow_dashboard_uid('order-export')}.json"]))
    )


def test_lint_catches_overlaps_ids_variables_and_dead_links(dashboards: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(dashboards[f"{OVERVIEW_UID}.json"]))
    first, second = broken["panels"][1], broken["panels"][2]
    second["gridPos"] = dict(first["gridPos"])
    second["id"] = first["id"]
    broken["panels"][3]["gridPos"]["x"] = 22
    broken["templating"]["list"].append({"name": "unused", "type": "custom", "query": "a"})
    first["targets"][0]["expr"] += ' + on() count(up{job="$missing"})'
    first["links"] = [{"title": "dead", "url": "/d/no-such-dashboard/"}]
    assert any("overlaps" in p for p in check_layout(broken))
    assert any("outside the grid" in p for p in check_layout(broken))
    assert check_ids(broken) == [f"panel id {first['id']} is used more than once"]
    assert check_variables(broken) == [
        "variable $missing is used but not defined",
        "variable $unused is defined but never used",
    ]
    assert check_links(broken, {OVERVIEW_UID}, {DYNAMIC_UID}) == [
        "link '/d/no-such-dashboard/' points at unknown dashboard 'no-such-dashboard'"
    ]
