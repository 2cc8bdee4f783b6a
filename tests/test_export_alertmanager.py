"""The exported alertmanager.yml in a real Alertmanager, posting to the local Slack stand-in:
maintenance windows mute alerts without a team too, and a grouped message reads like flowhealth's."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowhealth.export import ALERTS_FILE, ExportLinks, alertmanager_file, prometheus_files
from flowhealth.export.rule_tests import SCRAPE_LABELS, render
from flowhealth.model import Model
from tests.support.alertmanager import alertmanager_binary, post_alerts, running_alertmanager
from tests.support.models import orders_flow, write_model
from tests.support.services import need
from tests.support.slack_server import SlackServer

LINKS = ExportLinks(grafana_url="http://grafana.test", public_url="http://flowhealth.test")
CHANNELS = {"C1": "shop-alerts", "C2": "erp-alerts"}

# A window over the whole week, so it is active whenever the test runs; the orders flow touches the
# ERP, the catalog flow does not.
FLOWS = orders_flow(
    "sqlite:///x.db",
    "SELECT 1",
    extra="""
  catalog:
    description: Products reach the shop.
    object: product
    source_of_truth: pim
    targets: [shop]
    pattern: file
    latency_class: next-cycle
    owner: shop-team
    signals:
      rejected:
        kind: rejections
        description: Products the shop rejected.
        probe:
          kind: sql
          connection: shop_db
          query: "SELECT reason, 1 FROM x"
          label_columns: [reason]
systems:
  pim: {name: PIM, kind: pim, owner: shop-team}
maintenance_windows:
  erp-all-week:
    systems: [erp]
    timezone: Europe/Berlin
    weekdays: [mon, tue, wed, thu, fri, sat, sun]
    start: "00:00"
    end: "24:00"
    reason: The ERP is being migrated
""",
)
RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
  products-rejected:
    flow: catalog
    signal: rejected
    above: 5
    severity: warning
    summary: "{{ value | number }} products rejected ({{ labels.reason }})"
    business_impact: Products cannot be bought in the shop.
    runbook: orders-late
"""


@pytest.fixture
def model(tmp_path: Path) -> Model:
    return write_model(tmp_path / "m", FLOWS, RULES)


def as_prometheus_sends(model: Model, rule_id: str, value: float, **labels: str) -> dict[str, Any]:
    """An alert of an exported rule, labelled and annotated the way Prometheus would send it."""
    groups = yaml.safe_load(prometheus_files(model, LINKS)[ALERTS_FILE])["groups"]
    rule = next(r for g in groups for r in g["rules"] if r["alert"] == rule_id and "reason" not in r["labels"])
    series = {**SCRAPE_LABELS, **labels}
    return {
        "labels": {**series, **rule["labels"], "alertname": rule_id},
        "annotations": {k: render(v, value, series) for k, v in rule["annotations"].items()},
    }


def exported_config(model: Model, tmp_path: Path, slack: SlackServer) -> Path:
    """The exported alertmanager.yml, pointed at the stand-in, with a 1 s group_wait (instead of 30 s)."""
    token = tmp_path / "slack_token"
    token.write_text(slack.token)
    document = yaml.safe_load(alertmanager_file(model, str(token)))
    document["global"]["slack_api_url"] = f"{slack.base_url}chat.postMessage"
    document["route"]["group_wait"] = "1s"
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def wait_for_posts(slack: SlackServer, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = [args for method, args in list(slack.slack.calls) if method == "chat.postMessage"]
        if len(posts) >= count:
            return posts
        time.sleep(0.2)  # waiting for Alertmanager's group_wait; no clock to inject
    raise AssertionError(f"Alertmanager posted {len(posts)} messages, expected {count}")


def test_maintenance_windows_mute_alerts_without_a_team_too(model: Model, tmp_path: Path) -> None:
    need(alertmanager_binary() is not None, "Alertmanager (Debian package prometheus-alertmanager)")
    with SlackServer(CHANNELS) as slack:
        config = exported_config(model, tmp_path, slack)
        with running_alertmanager(config, tmp_path) as url:
            teamless = as_prometheus_sends(model, "orders-late", 1200)
            del teamless["labels"]["team"]  # a hand-written rule in Prometheus, without an owner
            owned = as_prometheus_sends(model, "orders-late", 1300)
            control = as_prometheus_sends(model, "products-rejected", 9, reason="schema")
            del control["labels"]["team"]
            post_alerts(url, [teamless, owned, control])
            [post] = wait_for_posts(slack, 1)
            time.sleep(3)  # give the muted groups the time they would need to be sent
            posts = wait_for_posts(slack, 1)
    assert len(posts) == 1, [p["channel"] for p in posts]
    # Only the alert of the flow outside the window reached Slack, at the fallback team's channel.
    assert post["channel"] == "#erp-alerts"
    assert "products rejected (schema)" in post["attachments"][0]["title"]


def test_a_grouped_slack_message_carries_impact_value_owner_and_runbook(model: Model, tmp_path: Path) -> None:
    need(alertmanager_binary() is not None, "Alertmanager (Debian package prometheus-alertmanager)")
    with SlackServer(CHANNELS) as slack:
        config = exported_config(model, tmp_path, slack)
        with running_alertmanager(config, tmp_path) as url:
            alerts = [
                as_prometheus_sends(model, "products-rejected", value, reason=reason)
                for value, reason in ((9, "schema"), (12, "price"), (30, "image"))
            ]
            post_alerts(url, alerts)
            [post] = wait_for_posts(slack, 1)
    [attachment] = post["attachments"]
    assert post["channel"] == "#shop-alerts"
    assert attachment["title"] == "[FIRING:3] catalog: 3 alerts"  # summaries differ: no bare colon
    text = attachment["text"]
    blocks = text.split("\n\n")
    assert len(blocks) == 3, text
    for block, (value, reason) in zip(
        sorted(blocks), sorted([("12", "price"), ("30", "image"), ("9", "schema")]), strict=True
    ):
        assert block.splitlines() == [
            f":red_circle: *{value} products rejected ({reason})* (warning)",
            f"*Value:* {value} payloads",
            "*Owner:* shop-team",
            "*Business impact:* Products cannot be bought in the shop.",
            "<http://flowhealth.test/runbooks/orders-late|Runbook> · "
            "<http://grafana.test/d/flowhealth-flow-catalog/?var-flow=catalog|Dashboard>",
        ], block
    assert not re.search(r"(: |· )$|^ ?·|\n\n\n", text)
