"""Flow templates: a flow, its alert rules and runbooks for the common commerce integrations.

Each template writes YAML text rather than dumped dicts, so the files a newcomer opens carry
comments saying what to change. Adding a template: one function returning a `Scaffold`, one
entry in `TEMPLATES`.

Checkout throughput, the one template with baseline rules and a business calendar, is in
checkout.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .checkout import checkout_throughput
from .flow_parts import FlowParams, Queue, Scaffold, connection_yaml, flow_head, rule_head
from .runbook_text import runbook


class TemplateName(StrEnum):
    ORDER_EXPORT = "order-export"
    STOCK_SYNC = "stock-sync"
    QUEUE = "queue"
    PAYMENT_SETTLEMENT = "payment-settlement"
    CHECKOUT_THROUGHPUT = "checkout-throughput"


@dataclass(frozen=True)
class Template:
    """A template's defaults and the function writing it."""

    summary: str
    flow: str
    connection: str
    url_env: str
    build: Callable[[FlowParams], Scaffold]


def order_export(p: FlowParams) -> Scaffold:
    age = p.database.age_seconds("MIN(placed_at)")
    flow = (
        connection_yaml(p, p.database.example_url)
        + flow_head(
            p,
            description="Paid orders reach the ERP, which picks, ships and invoices them.",
            obj="order",
            pattern="queue",
            latency="same-day",
            criticality="critical",
        )
        + "    signals:\n"
        "      export_delay:\n"
        "        kind: delay                # seconds; metric flowhealth_flow_delay_seconds\n"
        "        description: Age of the oldest paid order the ERP has not accepted yet.\n"
        "        probe:\n"
        "          kind: sql\n"
        f"          connection: {p.connection}\n"
        "          # Change table and columns to yours; :now_ts is the evaluator's time as a UTC timestamp.\n"
        "          query: >-\n"
        f"            SELECT COALESCE({age}, 0) FROM orders\n"
        "            WHERE exported_at IS NULL\n"
        "          interval: 1m\n"
        "          timeout: 10s\n"
    )
    rules = "rules:\n" + rule_head(
        p,
        f"{p.flow}-delayed",
        "    signal: export_delay\n"
        "    above: 30m\n"
        "    for: 5m\n"
        "    severity: critical\n"
        '    summary: "Orders are not reaching the ERP: the oldest has waited {{ value | duration }}"\n'
        "    business_impact: Paid orders are not picked or shipped; same-day delivery promises are at risk.\n"
        f"    runbook: {p.flow}-delay\n"
        f"    failure_mode: {p.target}_unavailable\n",
    )
    return Scaffold(
        flow,
        rules,
        {f"{p.flow}-delay": runbook(p, "Order export delay", f"{p.flow}-delayed", "paid orders wait for the ERP")},
    )


def stock_sync(p: FlowParams) -> Scaffold:
    age = p.database.age_seconds("MAX(synced_at)")
    flow = (
        connection_yaml(p, p.database.example_url)
        + flow_head(
            p,
            description="Stock levels from the ERP reach the shop, so it sells only what is there.",
            obj="inventory",
            pattern="scheduled",
            latency="checkout-blocking",
            criticality="high",
        )
        + "    signals:\n"
        "      stock_staleness:\n"
        "        kind: staleness            # seconds since the last successful sync\n"
        "        description: Time since the shop last received stock levels.\n"
        "        probe:\n"
        "          kind: sql\n"
        f"          connection: {p.connection}\n"
        "          # Change table and column to yours; :now_ts is the evaluator's time as a UTC timestamp.\n"
        f"          query: SELECT COALESCE({age}, 0) FROM stock_levels\n"
        "          interval: 1m\n"
        "          timeout: 10s\n"
    )
    rules = "rules:\n" + rule_head(
        p,
        f"{p.flow}-stale",
        "    signal: stock_staleness\n"
        "    above: 1h\n"
        "    for: 5m\n"
        "    severity: warning\n"
        '    summary: "Stock in the shop is {{ value | duration }} old"\n'
        "    business_impact: The shop sells from stale stock levels; oversells and cancelled orders follow.\n"
        f"    runbook: {p.flow}-stale\n",
    )
    return Scaffold(
        flow, rules, {f"{p.flow}-stale": runbook(p, "Stock sync stale", f"{p.flow}-stale", "stock levels are stale")}
    )


_QUEUE_PROBES = {
    Queue.RABBITMQ: (
        "amqp://reader:${BROKER_PASSWORD}@rabbitmq/vhost",
        "{{kind: rabbitmq, connection: {c}, queue: {q}, measure: ready}}",
        "{{kind: rabbitmq, connection: {c}, queue: {q}, measure: consumers}}",
    ),
    Queue.REDIS: (
        "redis://redis:6379/0",
        "{{kind: redis, connection: {c}, key: {q}, measure: length}}",
        None,
    ),
    Queue.NATS: (
        "nats://nats:4222",
        "{{kind: nats, connection: {c}, stream: {q}, consumer: {t}, measure: pending}}",
        None,
    ),
}


def queue(p: FlowParams) -> Scaffold:
    example, depth_probe, consumers_probe = _QUEUE_PROBES[p.queue]
    q = p.queue_name
    flow = (
        connection_yaml(p, example)
        + flow_head(
            p,
            description=f"Messages on {q} reach the connector that delivers them to the target.",
            obj="order",
            pattern="queue",
            latency="same-day",
            criticality="high",
        )
        + "    signals:\n"
        "      queue_depth:\n"
        "        kind: depth                # messages waiting\n"
        f"        description: Messages waiting on {q}.\n"
        f"        probe: {depth_probe.format(c=p.connection, q=q, t=p.target)}\n"
    )
    rules = "rules:\n" + rule_head(
        p,
        f"{p.flow}-backlog",
        "    signal: queue_depth\n"
        "    above: 500                     # messages\n"
        "    for: 10m\n"
        "    severity: warning\n"
        '    summary: "{{ value | number }} messages are waiting on the queue"\n'
        "    business_impact: Records wait between the systems; the target works with old data.\n"
        f"    runbook: {p.flow}-backlog\n",
    )
    books = {f"{p.flow}-backlog": runbook(p, "Queue backlog", f"{p.flow}-backlog", "messages pile up")}
    if consumers_probe is not None:
        flow += (
            "      queue_consumers:\n"
            "        kind: consumers\n"
            f"        description: Connector instances consuming {q}.\n"
            f"        probe: {consumers_probe.format(c=p.connection, q=q, t=p.target)}\n"
        )
        rules += rule_head(
            p,
            f"{p.flow}-no-consumer",
            "    signal: queue_consumers\n"
            "    below: 1\n"
            "    for: 2m\n"
            "    severity: critical\n"
            '    summary: "Nobody consumes the queue"\n'
            "    business_impact: Nothing is delivered to the target until a connector consumes again.\n"
            f"    runbook: {p.flow}-backlog\n",
        )
    return Scaffold(flow, rules, books)


def payment_settlement(p: FlowParams) -> Scaffold:
    since = p.database.days_ago(7)
    flow = (
        connection_yaml(p, p.database.example_url)
        + flow_head(
            p,
            description="What the payment provider settled agrees with what the ledger booked.",
            obj="payment",
            pattern="file",
            latency="finance-close",
            criticality="high",
        )
        + "    signals:\n"
        "      settlement_mismatches:\n"
        "        kind: mismatches           # records, per mismatch kind and currency\n"
        "        description: Settled payments missing from the ledger, or booked with another amount.\n"
        "        probe:\n"
        "          kind: reconcile\n"
        "          measure: mismatches\n"
        "          key: payment_ref          # columns: key, amount, currency (names configurable)\n"
        "          absolute_tolerance: 0.01\n"
        "          interval: 15m\n"
        "          source:                   # what the PSP settled (change to your tables)\n"
        "            kind: sql\n"
        f"            connection: {p.connection}\n"
        f"            query: SELECT payment_ref, amount, currency FROM psp_settlements WHERE settled_at > {since}\n"
        "          target:                   # what the ledger booked\n"
        "            kind: sql\n"
        f"            connection: {p.connection}\n"
        f"            query: SELECT payment_ref, amount, currency FROM ledger_entries WHERE booked_at > {since}\n"
    )
    rules = "rules:\n" + rule_head(
        p,
        f"{p.flow}-mismatch",
        "    signal: settlement_mismatches\n"
        "    above: 0                       # records\n"
        "    for: 30m\n"
        "    severity: warning\n"
        '    summary: "{{ value | number }} settled payments disagree with the ledger"\n'
        "    business_impact: Finance cannot close the period until every settlement is booked.\n"
        f"    runbook: {p.flow}-mismatch\n",
    )
    return Scaffold(
        flow,
        rules,
        {f"{p.flow}-mismatch": runbook(p, "Settlement mismatch", f"{p.flow}-mismatch", "PSP and ledger disagree")},
    )


TEMPLATES: dict[TemplateName, Template] = {
    TemplateName.ORDER_EXPORT: Template(
        "Order export to the ERP (SQL delay)", "order-export", "shop_db", "SHOP_DB_URL", order_export
    ),
    TemplateName.STOCK_SYNC: Template(
        "Stock sync from the ERP (staleness)", "stock-sync", "shop_db", "SHOP_DB_URL", stock_sync
    ),
    TemplateName.QUEUE: Template(
        "A queue to a connector (RabbitMQ, Redis or NATS)", "order-queue", "broker", "BROKER_URL", queue
    ),
    TemplateName.PAYMENT_SETTLEMENT: Template(
        "Payment settlement, PSP against ledger (reconcile)",
        "payment-settlement",
        "finance_db",
        "FINANCE_DB_URL",
        payment_settlement,
    ),
    TemplateName.CHECKOUT_THROUGHPUT: Template(
        "Checkout throughput against what is usual for the hour and weekday (baseline)",
        "checkout",
        "shop_db",
        "SHOP_DB_URL",
        checkout_throughput,
    ),
}
