"""A model and a running service for the fault tests: three pushed flows and one traced flow."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.alerting.notices import read_message
from flowhealth.notify.wording import thread_text
from flowhealth.store.tables import OutboxMessage
from tests.support.otlp import STUCK_RULE, TRACES_FLOW
from tests.support.slack_server import FakeSlack

TOKEN = "fault-api-token"
SLACK_TOKEN = "xoxb-fault-token"
PUSHED = ("f1", "f2", "f3")
THRESHOLD = 10.0


def serve_env(database_url: str, slack_base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `flowhealth serve` subprocess for the fault model: fast cycles, the API
    token, and Slack being the local Web API server at `slack_base_url`."""
    return {
        "FLOWHEALTH_DATABASE_URL": database_url,
        "FLOWHEALTH_EVALUATION_INTERVAL": "0.2",
        "FLOWHEALTH_DELIVERY_INTERVAL": "0.2",
        "FLOWHEALTH_API_TOKEN": TOKEN,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "FLOWHEALTH_SLACK_BASE_URL": slack_base_url,
        **extra,
    }


def _queue_flow(flow: str, description: str, backlog_probe: str) -> str:
    """One queue flow of the fault model whose `backlog` signal is read by `backlog_probe` (flow YAML)."""
    return f"""
  {flow}:
    description: {description}
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: queue
    latency_class: same-day
    owner: shop-team
    signals:
      backlog: {{kind: depth, description: Backlog., probe: {backlog_probe}}}
"""


def pushed_flows() -> str:
    return TRACES_FLOW + "".join(_queue_flow(flow, f"Pushed flow {flow}.", "{kind: push}") for flow in PUSHED)


def pushed_rules() -> str:
    rules = [
        f"""
  {flow}-backlog:
    flow: {flow}
    signal: backlog
    above: {THRESHOLD:g}
    severity: critical
    summary: "Backlog of {{{{ value }}}}"
    business_impact: Orders wait.
    runbook: orders-late
"""
        for flow in PUSHED
    ]
    return STUCK_RULE + "".join(rules)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def slack_keys(slack: FakeSlack) -> Counter[str]:
    """How many Slack messages carry each outbox dedup key (from the message metadata)."""
    with slack.lock:
        return Counter(
            str((m.metadata or {}).get("event_payload", {}).get("dedup_key")) for m in slack.messages if m.metadata
        )


def posting_keys(rows: list[OutboxMessage]) -> set[str]:
    """Dedup keys of outbox messages that create a Slack message (not only edit one)."""
    return {
        r.dedup_key
        for r in rows
        if r.kind in ("open", "post") or thread_text(read_message(r.kind, r.payload, at=r.created_at))
    }


def replies_follow_parents(slack: FakeSlack) -> bool:
    """Every thread reply was posted after the message it replies to."""
    with slack.lock:
        position = {m.ts: i for i, m in enumerate(slack.messages)}
        return all(
            m.thread_ts in position and position[m.thread_ts] < i for i, m in enumerate(slack.messages) if m.thread_ts
        )


def delivered_in_order(rows: list[OutboxMessage]) -> bool:
    """Within a thread, messages were delivered in the order they were queued."""
    last: dict[str, object] = {}
    for row in rows:
        if row.delivered_at is None:
            return False
        previous = last.get(row.thread_key)
        if previous is not None and row.delivered_at < previous:  # type: ignore[operator]
            return False
        last[row.thread_key] = row.delivered_at
    return True


def probed_flows(shop_db: Path, flows: Sequence[str], query: str, *, interval: str, timeout: str) -> str:
    """The pushed flows plus one flow per name measured by an SQL probe on the SQLite file `shop_db`."""
    probe = f'{{kind: sql, connection: shop_db, query: "{query}", interval: {interval}, timeout: {timeout}}}'
    blocks = "".join(_queue_flow(flow, f"Probed flow {flow}.", probe) for flow in flows)
    return f'connections:\n  shop_db:\n    url: "sqlite:///{shop_db}"\n' + pushed_flows() + blocks
