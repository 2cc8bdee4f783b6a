"""The model loader: the reference deployment loads; each class of mistake names file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowhealth.errors import ModelError, ModelIssue
from flowhealth.model import load_model
from flowhealth.model.schema import LatencyClass
from tests.support.models import copy_reference, edit, line_of

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A private copy of the reference deployment to break."""
    copy_reference(tmp_path)
    return tmp_path


def issues_of(model_dir: Path) -> list[ModelIssue]:
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    return caught.value.issues


def test_reference_deployment_loads_with_every_headline_signal(reference_model) -> None:
    kinds = {s.signal.kind.value for s in reference_model.signals()}
    # order export delay, stale inventory, queue depth, settlement mismatches, manual interventions
    assert {"delay", "staleness", "depth", "mismatches", "interventions"} <= kinds
    for flow in ("order-export", "inventory-sync", "price-sync", "payment-settlement", "fulfilment-status", "refunds"):
        assert flow in reference_model.flows
    for rule_id, rule in reference_model.rules.items():
        assert rule.runbook in reference_model.runbooks, rule_id
        assert reference_model.rule_owner(rule_id) in reference_model.teams


def test_unknown_key_is_reported_with_its_line(model_dir: Path) -> None:
    path = model_dir / "flows/orders.yaml"
    edit(path, "    criticality: critical\n", "    criticality: critical\n    critically: high\n")
    [issue] = issues_of(model_dir)
    assert issue == ModelIssue(
        "flows/orders.yaml",
        line_of(path, "critically:"),
        "flows.order-export.critically",
        "unknown key (did you mean 'criticality'?)",
    )


def test_wrong_type_names_the_field(model_dir: Path) -> None:
    path = model_dir / "flows/teams.yaml"
    edit(path, "    pool_size: 1\n", "    pool_size: lots\n")
    [issue] = issues_of(model_dir)
    assert issue.path == "flows/teams.yaml"
    assert issue.line == line_of(path, "pool_size: lots")
    assert issue.field == "connections.finance_dwh.pool_size"
    assert "integer" in issue.message


def test_bad_duration_is_explained(model_dir: Path) -> None:
    path = model_dir / "alert_rules/orders.yaml"
    edit(path, "    for: 5m\n", "    for: five minutes\n")
    [issue] = issues_of(model_dir)
    assert issue.line == line_of(path, "for: five minutes")
    assert issue.field == "rules.order-export-delayed.for"
    assert "'five minutes' is not a duration" in issue.message


def test_bad_duration_inside_a_probe_drops_the_union_tag_from_the_path(model_dir: Path) -> None:
    path = model_dir / "flows/catalog.yaml"
    edit(path, "          interval: 30s\n", "          interval: 30 seconds\n")
    [issue] = issues_of(model_dir)
    assert issue.field == "flows.inventory-sync.signals.stock_age.probe.interval"
    assert issue.line == line_of(path, "interval: 30 seconds")


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "    flow: order-export\n    signal: export_delay\n",
            "    flow: order-exports\n    signal: export_delay\n",
            "rules.order-export-delayed.flow",
            "unknown flow 'order-exports'",
        ),
        (
            "    signal: export_delay\n",
            "    signal: export_latency\n",
            "rules.order-export-delayed.signal",
            "unknown signal 'export_latency' of flow 'order-export'",
        ),
        (
            "    runbook: order-export-delay\n",
            "    runbook: order-delay\n",
            "rules.order-export-delayed.runbook",
            "unknown runbook 'order-delay'",
        ),
        (
            "    failure_mode: erp_unavailable\n",
            "    owner: erp-team\n",
            "rules.order-export-delayed.owner",
            "unknown team 'erp-team'",
        ),
    ],
    ids=["flow", "signal", "runbook", "owner"],
)
def test_rule_referencing_something_missing(model_dir: Path, old: str, new: str, field: str, message: str) -> None:
    path = model_dir / "alert_rules/orders.yaml"
    edit(path, old, new)
    [issue] = issues_of(model_dir)
    assert issue.path == "alert_rules/orders.yaml"
    assert issue.field == field
    assert issue.message.startswith(message)
    assert issue.line == line_of(path, new.strip().splitlines()[0] if "flow:" not in new else "flow: order-exports")


def test_flow_owner_must_be_a_team(model_dir: Path) -> None:
    path = model_dir / "flows/catalog.yaml"
    edit(path, "    owner: product-data\n", "    owner: pim-people\n")
    [issue] = issues_of(model_dir)
    assert (issue.field, issue.line) == ("flows.product-data.owner", line_of(path, "owner: pim-people"))


def test_runbook_missing_a_required_section(model_dir: Path) -> None:
    path = model_dir / "runbooks/inventory-stale.md"
    text = path.read_text()
    start = text.index("## Escalation path")
    rest = text.find("\n## ", start + 1)
    path.write_text(text[:start] + (text[rest + 1 :] if rest != -1 else ""))
    [issue] = issues_of(model_dir)
    assert issue.path == "runbooks/inventory-stale.md"
    assert issue.field == "escalation path"
    assert "no '## Escalation Path' section" in issue.message


def test_runbook_owner_must_name_a_team(model_dir: Path) -> None:
    path = model_dir / "runbooks/price-mismatch.md"
    text = path.read_text()
    start = text.index("## Owner")
    end = text.index("\n## ", start + 1)
    path.write_text(text[:start] + "## Owner\nSomebody in retail.\n" + text[end:])
    [issue] = issues_of(model_dir)
    assert (issue.path, issue.field, issue.line) == ("runbooks/price-mismatch.md", "owner", line_of(path, "## Owner"))
    assert "names no known team" in issue.message


def test_invalid_yaml_syntax_names_the_line(model_dir: Path) -> None:
    path = model_dir / "alert_rules/catalog.yaml"
    edit(path, "    above: 0\n", "    above: [0\n")
    [issue] = issues_of(model_dir)
    assert issue.path == "alert_rules/catalog.yaml"
    assert issue.message.startswith("invalid YAML")
    assert issue.line >= line_of(path, "above: [0")


def test_duplicate_keys_are_not_silently_merged(model_dir: Path) -> None:
    path = model_dir / "alert_rules/payments.yaml"
    edit(path, "    above: 100\n", "    above: 100\n    above: 50\n")
    [issue] = issues_of(model_dir)
    assert issue.field == "rules.settlement-amount-mismatch.above"
    assert issue.line == line_of(path, "above: 50")
    assert "duplicate key" in issue.message


def test_literal_password_in_a_url_is_refused(model_dir: Path) -> None:
    path = model_dir / "flows/teams.yaml"
    edit(path, "url: ${ERP_DB_URL}", "url: postgresql://erp:hunter2@erp-db/erp")
    [issue] = issues_of(model_dir)
    assert issue.field == "connections.erp_db"
    assert "literal password" in issue.message
    assert "hunter2" not in str(issue)


def test_env_reference_for_password_is_accepted(model_dir: Path) -> None:
    path = model_dir / "flows/teams.yaml"
    edit(path, "url: ${ERP_DB_URL}", "url: postgresql://erp:${ERP_DB_PASSWORD}@erp-db/erp")
    assert load_model(model_dir).connections["erp_db"].url.endswith("@erp-db/erp")


def test_template_with_unknown_variable(model_dir: Path) -> None:
    path = model_dir / "alert_rules/catalog.yaml"
    edit(path, "{{ value | number }} SKUs", "{{ valeu | number }} SKUs")
    [issue] = issues_of(model_dir)
    assert issue.field == "rules.price-mismatch.summary"
    assert "unknown template variable(s) valeu" in issue.message


def test_same_name_defined_in_two_files(model_dir: Path) -> None:
    (model_dir / "alert_rules/extra.yaml").write_text(
        "rules:\n  inventory-stale:\n    flow: inventory-sync\n    signal: stock_age\n    severity: info\n"
        "    summary: x\n    business_impact: y\n    runbook: inventory-stale\n"
    )
    [issue] = issues_of(model_dir)
    assert (issue.path, issue.line, issue.field) == ("alert_rules/extra.yaml", 2, "rules.inventory-stale")
    assert "defined twice (first in alert_rules/catalog.yaml:" in issue.message


def test_every_problem_is_listed_and_nothing_is_half_loaded(model_dir: Path) -> None:
    edit(model_dir / "flows/orders.yaml", "    criticality: critical\n", "    criticality: urgent\n")
    edit(model_dir / "alert_rules/catalog.yaml", "    severity: info\n", "    severity: loud\n")
    edit(model_dir / "alert_rules/payments.yaml", "    runbook: settlement-mismatch\n", "    runbook: nope\n")
    issues = issues_of(model_dir)
    fields = {i.field for i in issues}
    assert "flows.order-export.criticality" in fields
    assert "rules.product-import-rejections.severity" in fields
    assert "rules.settlement-mismatch.runbook" in fields


def test_latency_class_gives_the_default_threshold(reference_model) -> None:
    # price-import-stale sets no threshold: the next-cycle class promises a day (plus slack).
    direction, threshold = reference_model.rule_threshold("price-import-stale")
    assert direction == "above"
    assert threshold == LatencyClass.NEXT_CYCLE.default_delay_threshold.total_seconds()


def test_count_signal_without_threshold_is_an_error(model_dir: Path) -> None:
    path = model_dir / "alert_rules/catalog.yaml"
    edit(path, "    above: 25\n", "")
    [issue] = issues_of(model_dir)
    assert issue.field == "rules.product-import-rejections.above"
    assert "no default threshold" in issue.message


def test_issue_renders_as_path_line_field_message() -> None:
    issue = ModelIssue("flows/a.yaml", 7, "flows.x.owner", "unknown team 'y'")
    assert str(issue) == "flows/a.yaml:7: flows.x.owner: unknown team 'y'"
