"""Teams declare Slack user-group and user ids; messages and escalations notify them for real.

Driven through the real outbox worker and SlackNotifier against the local Slack server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from flowhealth.clock import FakeClock
from flowhealth.errors import ModelError
from flowhealth.model import load_model
from tests.support import alerting_model
from tests.support.alerting import Rig, make_rig
from tests.support.models import RUNBOOK
from tests.support.slack_server import SlackServer
from tests.test_slack_delivery import drain, worker_for

MENTIONS = {
    'oncall: "@shop-oncall"': "slack_mentions: [S0SHOPONCALL]",
    'oncall: "@leads"': 'oncall: "@leads"\n    slack_mentions: [S0LEADS01, U0LEADAAA]',
}


def write_model(root: Path, flows: str) -> Path:
    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "flows" / "model.yaml").write_text(flows)
    (root / "alert_rules" / "rules.yaml").write_text(alerting_model.RULES)
    (root / "runbooks" / "rb.md").write_text(RUNBOOK.format(title="rb", team="shop-team"))
    return root


def with_mentions() -> str:
    flows = alerting_model.FLOWS
    for old, new in MENTIONS.items():
        flows = flows.replace(old, new)
    return flows


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts", "C2": "erp-alerts", "C3": "leads", "C4": "finance-alerts"}) as server:
        yield server


def test_alerts_and_escalations_mention_the_declared_groups_and_people(
    tmp_path: Path, clock: FakeClock, slack: SlackServer
) -> None:
    rig: Rig = make_rig(load_model(write_model(tmp_path / "m", with_mentions())), tmp_path, clock)
    worker = worker_for(rig, slack)
    rig.observe("orders", "delay", 1800)
    rig.tick()
    drain(rig, worker)
    [message] = slack.slack.top_level("#shop-alerts")
    assert "<!subteam^S0SHOPONCALL>" in str(message.blocks)

    for _ in range(7):  # nobody acknowledges: escalation to leads after 30 minutes
        rig.clock.advance(timedelta(minutes=5).total_seconds())
        rig.observe("orders", "delay", 1800)
        rig.tick()
        drain(rig, worker)
    [escalation] = slack.slack.top_level("#leads")
    assert "<!subteam^S0LEADS01> <@U0LEADAAA>" in escalation.text
    thread = " ".join(m.text for m in slack.slack.replies(message.ts))
    assert "escalating to <!subteam^S0LEADS01> <@U0LEADAAA>" in thread


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("'@shop-oncall'", "'@shop-oncall' is a handle, and Slack notifies nobody for a handle"),
        ("shop-oncall", "'shop-oncall' is not a Slack user group id (S0123ABC) or user id (U0456DEF)"),
    ],
)
def test_a_handle_in_slack_mentions_is_refused_with_the_fix(tmp_path: Path, value: str, says: str) -> None:
    flows = alerting_model.FLOWS.replace('oncall: "@shop-oncall"', f"slack_mentions: [{value}]")
    with pytest.raises(ModelError) as raised:
        load_model(write_model(tmp_path / "m", flows))
    text = str(raised.value)
    assert says in text and "model.yaml" in text and "slack_mentions" in text
    if "handle" in says:
        assert "Copy group ID" in text
