"""Receivers in the model and `flowhealth routes test`: who is told, where, with secrets kept as references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.errors import ModelError
from flowhealth.model import load_model
from flowhealth.notify.webhook import json_schema
from tests.test_notify_channels import model_with_receivers

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    model_with_receivers(tmp_path / "m", 2525)
    return tmp_path / "m"


def routes(model_dir: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["routes", "test", *args, "-m", str(model_dir), "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def kinds(plan: dict[str, object]) -> list[str]:
    destinations = plan["destinations"]
    assert isinstance(destinations, list)
    return sorted(d["kind"] for d in destinations)


def test_critical_goes_everywhere_warning_skips_pagerduty(model_dir: Path) -> None:
    critical = routes(model_dir, "orders-late", "--at", "2026-01-05T10:00+01:00")
    assert critical["team"] == "shop-team"
    assert kinds(critical) == ["email", "pagerduty", "slack", "teams", "webhook"]
    warning = routes(model_dir, "orders-late", "--severity", "warning", "--at", "2026-01-05T10:00+01:00")
    assert kinds(warning) == ["email", "slack", "teams", "webhook"]


def test_maintenance_and_business_hours_are_shown(model_dir: Path) -> None:
    sunday_night = routes(model_dir, "orders-backlog", "--at", "2026-01-04T02:30+01:00")
    assert sunday_night["held_by_maintenance"] == "erp-sunday"
    assert sunday_night["escalation"] == {"team": "leads", "after_seconds": 1800.0, "escalates_at_this_time": False}
    result = runner.invoke(
        app, ["routes", "test", "orders-backlog", "-m", str(model_dir), "--at", "2026-01-04T02:30+01:00"]
    )
    assert "maintenance window erp-sunday is active" in result.output
    assert "outside business hours it waits for the morning" in result.output


def test_secrets_print_as_their_references(model_dir: Path) -> None:
    result = runner.invoke(app, ["routes", "test", "orders-late", "-m", str(model_dir)])
    assert "${PD_SHOP_KEY}" in result.output and "${TEAMS_SHOP_URL}" in result.output


def test_unknown_rule_and_bad_time_are_sentences(model_dir: Path) -> None:
    result = runner.invoke(app, ["routes", "test", "nope", "-m", str(model_dir)])
    assert result.exit_code == 2 and "no rule 'nope'" in result.output
    result = runner.invoke(app, ["routes", "test", "orders-late", "-m", str(model_dir), "--at", "friday"])
    assert result.exit_code == 2 and "ISO 8601" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "routing_key: ${PD_SHOP_KEY}",
            "routing_key: R0UT1NGKEY0123456789abcdefABCDEF",
            "routing_key",
            "${ENV_VAR} reference",
        ),
        ("url: ${TEAMS_SHOP_URL}", "url: https://x.example/workflows?sig=abc", "url", "${ENV_VAR} reference"),
        ("secret: ${SHOP_HOOK_SECRET}", "secret: hunter2", "secret", "${ENV_VAR} reference"),
        ("to: [shop-oncall@example.com]", "to: [not-an-address]", "to[0]", "should match pattern"),
        ("kind: teams", "kind: carrier-pigeon", "teams", "does not match any of the expected tags"),
    ],
)
def test_receiver_mistakes_are_located(model_dir: Path, old: str, new: str, field: str, message: str) -> None:
    path = model_dir / "flows" / "model.yaml"
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    [issue] = caught.value.issues
    assert issue.path.endswith("flows/model.yaml")
    written = next(i for i, line in enumerate(path.read_text().splitlines(), 1) if new in line)
    assert issue.line in (written, written - 1)  # the field's line, or its receiver's for a wrong kind
    assert issue.field.startswith("teams.shop-team.receivers.")
    assert issue.field.endswith(field) or not field
    assert message in issue.message
    assert "hunter2" not in str(issue) and "R0UT1NGKEY" not in str(issue)


def test_published_webhook_schema_is_current() -> None:
    published = json.loads((REPO / "docs" / "webhook.schema.json").read_text())
    assert published == json_schema(), "run: python -m flowhealth.notify.webhook > docs/webhook.schema.json"
