"""A compact model with every routing and noise-control feature, written as real YAML."""

from __future__ import annotations

from pathlib import Path

from flowhealth.model import Model, load_model
from tests.support.models import RUNBOOK

FLOWS = """
teams:
  shop-team:
    slack_channel: "#shop-alerts"
    oncall: "@shop-oncall"
    escalation: leads
    escalate_after: 30m
    business_hours: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}
  erp-team:
    slack_channel: "#erp-alerts"
    oncall: "@erp-oncall"
    escalation: leads
    escalate_after: 15m
  finance:
    slack_channel: "#finance-alerts"
  leads:
    slack_channel: "#leads"
    oncall: "@leads"
systems:
  shop: {name: Shop, kind: commerce, owner: shop-team}
  erp: {name: ERP, kind: erp, owner: erp-team}
  psp: {name: PSP, kind: psp, owner: finance}
connections:
  shop_db: {url: "sqlite://"}
maintenance_windows:
  erp-sunday:
    systems: [erp]
    timezone: Europe/Berlin
    weekdays: [sun]
    start: "02:00"
    end: "04:00"
    reason: ERP patching
flows:
  orders:
    description: Orders reach the ERP.
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: queue
    latency_class: same-day
    owner: shop-team
    failure_owners: {erp_down: erp-team}
    signals:
      delay: {kind: delay, description: Oldest order., probe: {kind: push}}
      rejected: {kind: rejections, description: Rejected orders., probe: {kind: push}}
      depth:
        kind: depth
        description: Queue depth.
        probe: {kind: sql, connection: shop_db, query: "SELECT 1", interval: 30s}
  stock:
    description: Stock reaches the shop.
    object: inventory
    source_of_truth: erp
    targets: [shop]
    pattern: scheduled
    latency_class: checkout-blocking
    owner: erp-team
    signals:
      age: {kind: staleness, description: Stock age., probe: {kind: push}}
      updates: {kind: records, description: Stock updates per run., probe: {kind: push, expect_every: 10m}}
  erp-link:
    description: The middleware reaches the ERP.
    object: heartbeat
    source_of_truth: shop
    targets: [erp]
    pattern: api
    latency_class: checkout-blocking
    owner: erp-team
    signals:
      heartbeat: {kind: staleness, description: Heartbeat age., probe: {kind: push}}
  settlement:
    description: Settlements match.
    object: settlement
    source_of_truth: psp
    targets: [shop]
    pattern: file
    latency_class: finance-close
    owner: finance
    signals:
      mismatches: {kind: mismatches, description: Mismatched records., probe: {kind: push}}
"""

RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: rb
  orders-backlog:
    flow: orders
    signal: depth
    above: 100
    severity: warning
    summary: "{{ value | number }} messages wait"
    business_impact: Orders are late.
    runbook: rb
  orders-rejected:
    flow: orders
    signal: rejected
    above: 5
    severity: warning
    summary: "{{ value | number }} rejected ({{ labels.reason }})"
    business_impact: Rejected orders are not shipped.
    runbook: rb
    failure_mode: erp_down
  orders-rejected-finance:
    flow: orders
    signal: rejected
    above: 50
    severity: info
    summary: "{{ value | number }} rejected"
    business_impact: Money waits.
    runbook: rb
    owner: finance
  stock-stale:
    flow: stock
    signal: age
    above: 30m
    severity: warning
    summary: "Stock is {{ value | duration }} old"
    business_impact: Oversells.
    runbook: rb
  stock-no-updates:
    flow: stock
    signal: updates
    below: 1
    severity: warning
    summary: "No stock updates"
    business_impact: Oversells.
    runbook: rb
    no_data: alerting
    no_data_after: 15m
  erp-down:
    flow: erp-link
    signal: heartbeat
    above: 5m
    severity: critical
    summary: "ERP unreachable for {{ value | duration }}"
    business_impact: Nothing reaches the ERP.
    runbook: rb
    marks_down: [erp]
    group_by: [rule]
  settlement-off:
    flow: settlement
    signal: mismatches
    above: 10
    recovery_threshold: 3
    severity: critical
    summary: "{{ value | number }} mismatches"
    business_impact: Finance cannot close.
    runbook: rb
"""


def write_alerting_model(root: Path) -> Model:
    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "flows" / "model.yaml").write_text(FLOWS)
    (root / "alert_rules" / "rules.yaml").write_text(RULES)
    (root / "runbooks" / "rb.md").write_text(RUNBOOK.format(title="rb", team="shop-team"))
    return load_model(root)
