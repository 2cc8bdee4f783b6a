"""The readiness checklist: the reference deployment as it stands, and a model where every check fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.hypercare.readiness import CHECKS, blocking, check_readiness
from flowhealth.hypercare.readiness_text import readiness_table
from flowhealth.model import Model
from flowhealth.model.runbooks import Runbook
from flowhealth.model.schema import AlertRule, Flow, System, Team
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.tables import ProbeState
from tests.support.models import reference_without_stock_reconciliation

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def statuses(model: Model, engine: object = None) -> dict[str, dict[str, str]]:
    return {r.flow: {c.id: c.status for c in r.checks} for r in check_readiness(model, engine)}  # type: ignore[arg-type]


def test_reference_deployment_is_ready(reference_model: Model) -> None:
    got = statuses(reference_model)
    for flow, checks in got.items():
        assert checks.pop("probes_succeeding") == "n/a"  # no store given
        assert set(checks.values()) <= {"pass", "n/a"}, (flow, checks)
    assert got["order-export"]["retry_owner"] == "pass"  # manual_fix → erp-integration
    assert got["order-export"]["reconciliation"] == "pass"  # order_reconciliation compares shop and ERP
    assert got["order-export"]["contract"] == "pass"  # erp-sales-order, counted by a probe and by spans
    assert got["order-export"]["release"] == "pass"
    assert got["inventory-sync"]["reconciliation"] == "pass"  # stock_mismatches compares ERP and shop
    assert got["payment-settlement"]["reconciliation"] == "pass"
    assert got["price-sync"]["reconciliation"] == "n/a"
    assert blocking(check_readiness(reference_model)) == []


def _incomplete() -> Model:
    """Two critical flows that get everything the checklist asks about wrong."""
    half_runbook = Runbook(
        "half",
        "runbooks/half.md",
        "Half a runbook",
        "",
        sections={"owner": "Somebody, surely.", "business impact": "Orders wait.", "recovery steps": "Retry."},
    )
    rule = {"severity": "critical", "summary": "s", "business_impact": "b", "runbook": "half"}
    flow = {
        "description": "d",
        "pattern": "queue",
        "latency_class": "same-day",
        "criticality": "critical",
        "owner": "ops",
        "targets": ["erp"],
    }
    rejections = {
        "kind": "rejections",
        "description": "r",
        "probe": {"kind": "sql", "connection": "db", "query": "SELECT 1"},
    }
    return Model(
        teams={"ops": Team(slack_channel="#ops")},
        systems={"shop": System(name="Shop", kind="commerce", owner="ghost-team")},
        flows={
            "orders": Flow.model_validate(
                {**flow, "object": "order", "source_of_truth": "shop", "signals": {"rejected": rejections}}
            ),
            "stock": Flow.model_validate(
                {
                    **flow,
                    "object": "inventory",
                    "source_of_truth": "wms",
                    "owner": "nobody",
                    "failure_owners": {"dead_letter": "ghost-team"},
                    "signals": {"rejected": rejections},
                }
            ),
        },
        rules={
            "orders-rejected": AlertRule.model_validate({**rule, "flow": "orders", "signal": "rejected", "above": 1})
        },
        runbooks={"half": half_runbook},
    )


def test_incomplete_model_fails_every_check_for_the_right_reason(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    with transaction(engine) as session:
        for flow in ("orders", "stock"):
            session.add(
                ProbeState(
                    flow=flow,
                    signal="rejected",
                    kind="sql",
                    last_outcome="timeout",
                    last_run_at=NOW,
                    consecutive_failures=4,
                )
            )
    results = {r.flow: r for r in check_readiness(_incomplete(), engine)}
    orders = {c.id: c for c in results["orders"].checks}
    assert set(orders) == set(CHECKS) - {"baselines_learned"}  # shown only for flows with baseline rules
    assert all(c.status == "fail" for c in orders.values()), [c for c in orders.values() if c.status != "fail"]
    assert "owned by unknown team 'ghost-team'" in orders["system_of_record"].why
    assert orders["failure_owners"].why == "a critical flow declares no failure_owners"
    assert orders["retry_owner"].why.startswith("add a failure mode named one of retry, dead_letter")
    assert orders["reconciliation"].why.startswith("add a reconcile probe or a mismatches signal comparing 'order'")
    assert orders["contract"].why.startswith("add contract: {name, version, schema: FILE, owner: TEAM}")
    assert orders["release"].why.startswith("add operations.pause")
    assert orders["end_to_end"].why.startswith("only rejections signals")
    assert orders["alert_runbooks"].why == "orders-rejected: runbook 'half' lacks likely causes, escalation path"
    assert orders["runbook_owners"].why == "'half' names no known team as owner"
    assert orders["probes_succeeding"].why == "rejected: timeout"

    stock = {c.id: c for c in results["stock"].checks}
    assert all(c.status == "fail" for c in stock.values())
    assert stock["system_of_record"].why == "source of truth 'wms' is not a known system"
    assert stock["failure_owners"].why == "unknown owner team: dead_letter → ghost-team"
    assert stock["retry_owner"].why == "owner of dead_letter is not a known team"
    assert "comparing 'inventory' records" in stock["reconciliation"].why
    assert stock["alert_runbooks"].why == "no alert rule for this flow"
    assert stock["runbook_owners"].why == "no runbook to check"

    table = readiness_table(list(results.values()))
    assert "orders  [critical, owner ops]  NOT READY (10 of 10 checks fail)" in table
    assert "Go-live blocked: critical flow(s) failing: orders, stock." in table


def test_probes_succeeding_reads_the_store(reference_model: Model, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    assert statuses(reference_model, engine)["price-sync"]["probes_succeeding"] == "n/a"  # nothing ran yet
    with transaction(engine) as session:
        session.add(
            ProbeState(flow="price-sync", signal="price_age", kind="sql", last_outcome="success", last_run_at=NOW)
        )
    result = {r.flow: r for r in check_readiness(reference_model, engine)}["price-sync"]
    check = next(c for c in result.checks if c.id == "probes_succeeding")
    assert (check.status, check.why) == ("fail", "price_mismatches: never ran")
    with transaction(engine) as session:
        session.add(
            ProbeState(
                flow="price-sync", signal="price_mismatches", kind="sql", last_outcome="success", last_run_at=NOW
            )
        )
    assert statuses(reference_model, engine)["price-sync"]["probes_succeeding"] == "pass"


@pytest.mark.parametrize("output", ["table", "json"])
def test_cli_exits_1_when_a_critical_flow_fails(output: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    model_dir = reference_without_stock_reconciliation(tmp_path / "m")
    result = CliRunner().invoke(app, ["readiness", "--model-dir", str(model_dir), "--format", output])
    assert result.exit_code == 1, result.output
    if output == "json":
        document = json.loads(result.output)
        assert document["ready"] is False
        assert document["blocking"] == ["inventory-sync"]
        flows = {f["flow"]: f for f in document["flows"]}
        checks = {c["id"]: c for c in flows["inventory-sync"]["checks"]}
        assert checks["reconciliation"]["status"] == "fail"
        assert checks["system_of_record"] == {
            "id": "system_of_record",
            "title": "System of record agreed",
            "status": "pass",
            "why": "erp, owned by erp-basis",
        }
    else:
        assert "Go-live blocked" in result.output
        assert "  FAIL  Reconciliation of critical objects" in result.output


def test_cli_exits_0_on_the_reference_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    result = CliRunner().invoke(app, ["readiness", "--model-dir", str(REPO)])
    assert result.exit_code == 0, result.output


def test_cli_passes_on_a_ready_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.models import RUNBOOK

    (tmp_path / "flows").mkdir()
    (tmp_path / "alert_rules").mkdir()
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "flows/f.yaml").write_text(READY_FLOWS)
    (tmp_path / "alert_rules/r.yaml").write_text(READY_RULES)
    (tmp_path / "runbooks/settle.md").write_text(RUNBOOK.format(title="Settlement", team="finance"))
    (tmp_path / "settlement.schema.json").write_text(SETTLEMENT_SCHEMA)
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    result = CliRunner().invoke(app, ["readiness", "--model-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 of 1 flows ready." in result.output


READY_FLOWS = """
teams:
  finance: {slack_channel: "#finance"}
  erp-team: {slack_channel: "#erp"}
systems:
  psp: {name: PSP, kind: psp, owner: finance, release_windows: [{timezone: UTC, weekdays: [mon], start: "22:00", end: "23:00"}]}
  erp: {name: ERP, kind: erp, owner: erp-team, release_windows: [erp-sunday]}
maintenance_windows:
  erp-sunday: {systems: [erp], timezone: UTC, weekdays: [sun], start: "02:00", end: "04:00", reason: patches}
connections:
  dwh: {url: "sqlite://"}
flows:
  settlement:
    description: Settled payments are booked.
    object: payment
    source_of_truth: psp
    targets: [erp]
    pattern: file
    latency_class: finance-close
    criticality: critical
    owner: finance
    failure_owners: {erp_booking: erp-team, dead_letter: finance}
    contract: {name: settlement, version: "1.0", schema: settlement.schema.json, owner: finance}
    operations:
      pause: {how: Stop the file import.}
      queues: []
      replay: []
    signals:
      violations:
        kind: contract_violations
        description: Settlement rows breaking the contract.
        probe:
          kind: contract
          source: {kind: sql, connection: dwh, query: "SELECT 'a' AS ref, 1 AS amount"}
          key: ref
      mismatches:
        kind: mismatches
        description: Unmatched settlements.
        probe:
          kind: reconcile
          measure: mismatches
          key: ref
          source: {kind: sql, connection: dwh, query: "SELECT 'a', 'EUR', 1"}
          target: {kind: sql, connection: dwh, query: "SELECT 'a', 'EUR', 1"}
"""

READY_RULES = """
rules:
  settlement-mismatch:
    flow: settlement
    signal: mismatches
    above: 0
    severity: critical
    summary: Settlements do not match.
    business_impact: Finance cannot close.
    runbook: settle
"""

SETTLEMENT_SCHEMA = '{"type": "object", "required": ["ref", "amount"], "properties": {"ref": {"type": "string"}, "amount": {"type": "number"}}}'
