"""One run of validation reports schema errors and cross-references together, with suggestions and units."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.errors import ModelError
from flowhealth.model import load_model
from tests.support.models import RUNBOOK, TEAMS

FLOWS = """
connections:
  broker: {url: "${BROKER_URL}"}
flows:
  orders:
    description: Orders reach the ERP.
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: queue
    latency_class: same-day
    owner: shop-team
    signals:
      queue_depth:
        kind: depth
        description: Orders waiting.
        probe: {kind: rabbitmq, connection: broker, queue: erp.orders, measure: ready}
      delay:
        kind: delay
        description: Oldest order waiting.
        probe: {kind: push}
  stock:
    description: Stock reaches the shop.
    object: inventory
    source_of_truth: erp
    targets: [shop]
    pattern: scheduled
    latency_class: same-dya
    owner: shop-team
    signals:
      age:
        kind: staleness
        descripton: Time since the last sync.
        probe: {kind: push}
"""

RULES = """
rules:
  backlog-in-messages:
    flow: orders
    signal: queue_depth
    above: 100 messages
    severity: warning
    summary: "{{ value }} waiting"
    business_impact: Orders wait.
    runbook: orders-late
  backlog-as-duration:
    flow: orders
    signal: queue_depth
    above: 15m
    severity: warning
    summary: "{{ value }} waiting"
    business_impact: Orders wait.
    runbook: orders-late
  backlog-wrong-unit:
    flow: orders
    signal: queue_depth
    above: 100 records
    severity: warning
    summary: "{{ value }} waiting"
    business_impact: Orders wait.
    runbook: orders-late
  delay-typo:
    flow: orders
    signal: dealy
    severity: critical
    summary: "{{ value | duration }}"
    business_impact: Orders wait.
    runbook: orders-late
    owner: shop-taem
  slow-for:
    flow: orders
    signal: delay
    for: soon
    severity: critical
    summary: "x"
    business_impact: y
    runbook: orders-late
  bad-template:
    flow: orders
    signal: delay
    severity: critical
    summary: "{{ vlaue }}"
    business_impact: Orders wait.
    runbook: order-late
"""


@pytest.fixture
def broken_model(tmp_path: Path) -> Path:
    for sub in ("flows", "alert_rules", "runbooks"):
        (tmp_path / sub).mkdir()
    (tmp_path / "flows/teams.yaml").write_text(TEAMS)
    (tmp_path / "flows/flows.yaml").write_text(FLOWS)
    (tmp_path / "alert_rules/rules.yaml").write_text(RULES)
    (tmp_path / "runbooks/orders-late.md").write_text(RUNBOOK.format(title="Orders late", team="shop-team"))
    return tmp_path


def _messages(root: Path) -> dict[str, str]:
    with pytest.raises(ModelError) as caught:
        load_model(root)
    return {issue.field: issue.message for issue in caught.value.issues}


def test_schema_errors_and_references_come_in_one_run(broken_model: Path) -> None:
    found = _messages(broken_model)
    # Schema errors, in flows and in rules ...
    assert found["flows.stock.latency_class"].endswith("(did you mean 'same-day'?)")
    assert found["flows.stock.signals.age.descripton"] == "unknown key (did you mean 'description'?)"
    assert "'soon' is not a duration" in found["rules.slow-for.for"]
    # ... together with cross-references of the definitions that parsed, with suggestions.
    assert found["rules.delay-typo.signal"].startswith(
        "unknown signal 'dealy' of flow 'orders' (did you mean 'delay'?)"
    )
    assert found["rules.bad-template.runbook"].startswith("unknown runbook 'order-late' (did you mean 'orders-late'?)")
    assert "vlaue" in found["rules.bad-template.summary"]
    # Units: "100 messages" is fine on a depth signal; a duration or another unit says what it expects.
    assert "rules.backlog-in-messages.above" not in found
    assert found["rules.backlog-as-duration.above"] == (
        "'15m' is a duration, but a depth signal counts messages; write a number such as 100 or '100 messages'"
    )
    assert (
        found["rules.backlog-wrong-unit.above"]
        == "'100 records': a depth signal counts messages; write 100 or '100 messages'"
    )


def test_the_cli_lists_them_all_with_file_and_line(broken_model: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "-m", str(broken_model)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any(line.startswith("flows/flows.yaml:28: flows.stock.latency_class:") for line in lines)
    assert any(line.startswith("alert_rules/rules.yaml:") and "rules.slow-for.for" in line for line in lines)
    assert any(line.startswith("alert_rules/rules.yaml:") and "did you mean 'delay'" in line for line in lines)
    assert lines[-1] == f"{len(lines) - 1} problem(s) in {broken_model}"


def test_development_mode_allows_local_literal_credentials_with_a_warning(
    broken_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = broken_model / "flows/flows.yaml"
    flows.write_text(
        flows.read_text()
        .replace('"${BROKER_URL}"', '"amqp://guest:guest@localhost:5672/"')
        .replace("same-dya", "same-day")
        .replace("descripton", "description")
    )
    (broken_model / "alert_rules/rules.yaml").write_text("rules: {}\n")
    monkeypatch.delenv("FLOWHEALTH_DEV", raising=False)
    strict = CliRunner().invoke(app, ["validate", "-m", str(broken_model)])
    assert strict.exit_code == 1 and "literal password" in strict.output
    dev = CliRunner().invoke(app, ["validate", "-m", str(broken_model), "--dev"])
    assert dev.exit_code == 0, dev.output
    assert "warning: a connection to localhost holds a literal password" in dev.output
    assert "guest:guest" not in dev.output
    flows.write_text(flows.read_text().replace("@localhost:", "@rabbit.example.com:"))
    remote = CliRunner().invoke(app, ["validate", "-m", str(broken_model), "--dev"])
    assert remote.exit_code == 1 and "literal password" in remote.output  # production hosts stay strict
