"""Identifiers, contracts and operations facts in the model: each mistake names file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowhealth.errors import ModelError, ModelIssue
from flowhealth.model import load_model
from flowhealth.model.contracts import REDACTED, redact
from tests.support.models import copy_reference, edit, line_of

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    copy_reference(tmp_path)
    return tmp_path


def only_issue(model_dir: Path) -> ModelIssue:
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    issues = caught.value.issues
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_the_reference_deployment_declares_every_fact(reference_model) -> None:
    orders = reference_model.flows["order-export"]
    assert orders.identifiers["erp"].field == "external_ref"
    assert reference_model.contracts["order-export"].label == "erp-sales-order v2.1.0"
    assert orders.operations is not None and orders.operations.replay is not None
    assert orders.operations.replay[0].step == 6
    assert reference_model.systems["erp"].release_windows[0].maintenance_window == "erp-weekly-maintenance"


ORDERS = "flows/orders.yaml"


@pytest.mark.parametrize(
    ("path", "old", "new", "needle", "field", "message"),
    [
        (
            ORDERS,
            "      psp: {field: merchant_reference",
            "      pssp: {field: merchant_reference",
            "      pssp: {field",
            "flows.order-export.identifiers.pssp",
            "unknown system 'pssp'",
        ),
        (
            ORDERS,
            "entity_id: erp.sales_order.external_ref",
            "entity_id: erp.sales_order.number",
            "entity_id: erp.sales_order.number",
            "flows.order-export.traces.spans.0.entity_id",
            "does not carry erp's identifier 'external_ref'",
        ),
        (
            ORDERS,
            "          key: order_number\n          amount: total",
            "          key: order_no\n          amount: total",
            "key: order_no",
            "flows.order-export.signals.order_reconciliation.probe.key",
            "key 'order_no' is none of the flow's identifiers",
        ),
        (
            "alert_rules/orders.yaml",
            "SELECT order_number, ROUND",
            "SELECT ROUND",
            "query: >-",
            "rules.order-export-delayed.evidence.query",
            "the evidence shows none of flow 'order-export''s identifiers",
        ),
        (
            ORDERS,
            "schema: contracts/erp-sales-order.schema.json",
            "schema: contracts/missing.schema.json",
            "schema: contracts/missing",
            "flows.order-export.contract.schema",
            "file 'contracts/missing.schema.json' does not exist",
        ),
        (
            ORDERS,
            "schema: contracts/erp-sales-order.schema.json",
            "schema: ../outside.json",
            "schema: ../outside.json",
            "flows.order-export.contract.schema",
            "is outside the model directory",
        ),
        (
            ORDERS,
            "redact: [customer.email, customer.name, shipping_address]",
            "redact: [customer.mail, customer.name, shipping_address]",
            "redact: [customer.mail",
            "flows.order-export.contract.redact[0]",
            "field 'customer.mail' is not in contracts/erp-sales-order.schema.json",
        ),
        (
            ORDERS,
            "      owner: commerce-platform        # the shop-to-ERP",
            "      owner: shop-people        # the shop-to-ERP",
            "owner: shop-people",
            "flows.order-export.contract.owner",
            "unknown team 'shop-people'",
        ),
        (
            ORDERS,
            "      version: 2.1.0",
            "      version: two point one",
            "version: two point one",
            "flows.order-export.contract.version",
            "should match pattern",
        ),
        (
            ORDERS,
            "          runbook: order-export-rejections\n          step: 6",
            "          runbook: order-export-rejections\n          step: 60",
            "step: 60",
            "flows.order-export.operations.replay.0.step",
            "has 8 numbered recovery step(s), not 60",
        ),
        (
            ORDERS,
            "        - name: erp.orders\n          system: middleware",
            "        - name: erp.orders\n          system: mq",
            "system: mq",
            "flows.order-export.operations.queues.0.system",
            "unknown system 'mq'",
        ),
        (
            ORDERS,
            "      pause:\n        how: >-",
            "      pause:\n        possible: maybe\n        how: >-",
            "possible: maybe",
            "flows.order-export.operations.pause.possible",
            "valid boolean",
        ),
        (
            ORDERS,
            "          payload: erp.sales_order.payload",
            "          payload: erp.sales_order.payload\n          payloads: x",
            "payloads: x",
            "flows.order-export.traces.spans[0].payloads",
            "unknown key",
        ),
        (
            "flows/teams.yaml",
            "release_windows: [erp-weekly-maintenance]",
            "release_windows: [erp-monthly]",
            "release_windows: [erp-monthly]",
            "systems.erp.release_windows.0",
            "unknown maintenance window 'erp-monthly'",
        ),
        (
            "flows/teams.yaml",
            "api_limits: {requests: 100, per: 1s,",
            "api_limits: {requests: 0, per: 1s,",
            "api_limits: {requests: 0",
            "systems.psp.api_limits.requests",
            "greater than or equal to 1",
        ),
        (
            ORDERS,
            "        probe:\n          kind: contract\n",
            "        probe:\n          kind: contract\n          evidence_limit: -1\n",
            "evidence_limit: -1",
            "flows.order-export.signals.contract_violations.probe.evidence_limit",
            "greater than or equal to 0",
        ),
    ],
)
def test_each_fact_reports_file_line_and_field(
    model_dir: Path, path: str, old: str, new: str, needle: str, field: str, message: str
) -> None:
    edit(model_dir / path, old, new)
    issue = only_issue(model_dir)
    assert (issue.path, issue.line) == (path, line_of(model_dir / path, needle)), str(issue)
    assert issue.field.replace("[", ".").replace("]", "") == field.replace("[", ".").replace("]", ""), str(issue)
    assert message in issue.message, str(issue)


def test_a_release_window_must_be_one_the_maintenance_window_holds(model_dir: Path) -> None:
    edit(
        model_dir / "flows/teams.yaml",
        "    owner: product-data\n",
        "    owner: product-data\n    release_windows: [erp-weekly-maintenance]\n",
    )
    issue = only_issue(model_dir)
    assert issue.field == "systems.pim.release_windows.0"
    assert "does not hold system 'pim'" in issue.message


def test_an_example_breaking_its_schema_is_reported_at_the_field_in_the_example(model_dir: Path) -> None:
    example = model_dir / "contracts/erp-sales-order.example.json"
    edit(example, '"country": "DE"', '"country": "de"')
    issue = only_issue(model_dir)
    assert issue.path == "contracts/erp-sales-order.example.json"
    assert issue.line == line_of(example, '"country": "de"')
    assert issue.field == "shipping_address.country"
    assert "breaks contract erp-sales-order v2.1.0" in issue.message


def test_an_invalid_json_schema_is_reported_in_the_schema_file(model_dir: Path) -> None:
    schema = model_dir / "contracts/stock-level.schema.json"
    edit(schema, '"quantity": {"type": "integer", "minimum": 0}', '"quantity": {"type": "integr", "minimum": 0}')
    issue = only_issue(model_dir)
    assert issue.path == "contracts/stock-level.schema.json"
    assert issue.line == line_of(schema, '"integr"')
    assert "invalid JSON Schema" in issue.message


def test_a_contract_needs_a_schema_or_an_example(model_dir: Path) -> None:
    path = model_dir / ORDERS
    edit(
        path,
        "      schema: contracts/erp-sales-order.schema.json\n      example: contracts/erp-sales-order.example.json\n",
        "",
    )
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    messages = {(i.field, i.message) for i in caught.value.issues}
    assert ("flows.order-export.contract", "a contract needs a 'schema' or an 'example' payload file") in messages


def test_counting_violations_needs_a_schema_and_the_right_kind(model_dir: Path) -> None:
    path = model_dir / "flows/erp-connectivity.yaml"
    edit(path, "        kind: contract_violations\n", "        kind: rejections\n")
    issue = only_issue(model_dir)
    assert issue.field == "flows.erp-connectivity.signals.heartbeat_contract_violations.kind"
    assert issue.message == "a contract probe feeds a signal of kind contract_violations"


def test_redaction_replaces_declared_fields_in_a_copy() -> None:
    payload = {"customer": {"email": "a@b.c", "name": "A"}, "lines": [{"name": "x", "sku": "S"}], "id": 1}
    out = redact(payload, ["customer.email", "lines[].name"])
    assert out == {"customer": {"email": REDACTED, "name": "A"}, "lines": [{"name": REDACTED, "sku": "S"}], "id": 1}
    assert payload["customer"]["email"] == "a@b.c"


def test_violations_fold_list_positions_and_never_quote_redacted_values(reference_model) -> None:
    contract = reference_model.contracts["order-export"]
    broken = json.loads((REPO / "contracts/erp-sales-order.example.json").read_text())
    broken["customer"]["email"] = "not-an-email"
    broken["lines"] = [{"sku": "SKU-1", "quantity": 1, "price": 1}, {"sku": "SKU-00001", "quantity": 0, "price": 1}]
    del broken["shipping_address"]["postal_code"]
    found = {(v.field, v.reason): v.message for v in contract.violations(broken)}
    assert set(found) == {
        ("customer.email", "format"),
        ("lines[].sku", "pattern"),
        ("lines[].quantity", "minimum"),
        ("shipping_address.postal_code", "required"),
    }
    assert "not-an-email" not in found[("customer.email", "format")]
