"""The checkout-throughput template: orders per second against what is usual for this time of week.

A fixed threshold cannot tell 40 orders a minute on a Friday evening (an outage) from 40 at
night (a good night), so this template writes baseline rules (model/baseline_rule.py), the way
the reference deployment watches its checkout, and a business calendar for them to read weeks,
promotions and closures in.
"""

from __future__ import annotations

from .flow_parts import FlowParams, Scaffold, commented, connection_yaml, flow_head, rule_head
from .runbook_text import runbook

# Orders are counted over the last 5 minutes, the same width as the baseline's slot, so one
# probe value is comparable with one slot of an earlier week.
WINDOW_MINUTES = 5


def _calendar_yaml(p: FlowParams) -> str:
    if not p.define_calendar:
        return ""
    return (
        "\n"
        "# The shop's business calendar, shared by every flow. Baseline rules compare each slot with\n"
        "# the same wall-clock slot of earlier weeks in this time zone; promotions multiply what is\n"
        "# expected and closures expect nothing, so neither raises an alert nor is learned as normal.\n"
        "calendars:\n"
        f"  {p.calendar}:\n"
        + commented(f"    timezone: {p.timezone}", "the shop's IANA time zone, e.g. Europe/Berlin")
        + commented("    promotions: []", "e.g. - {name: Black Friday, start: 2026-11-27T00:00:00,")
        + commented("", "       end: 2026-11-28T00:00:00, multiplier: 3}")
        + commented("    closures: []", "e.g. - {name: Christmas Day, start: 2026-12-25}")
    )


def _flow_yaml(p: FlowParams) -> str:
    since = p.database.minutes_ago(WINDOW_MINUTES)
    seconds = WINDOW_MINUTES * 60
    return (
        connection_yaml(p, p.database.example_url)
        + flow_head(
            p,
            description="Customers place and pay orders in the shop; fewer than usual means lost revenue.",
            obj="order",
            pattern="api",
            latency="checkout-blocking",
            criticality="high",
            failure_modes=("checkout_down", "payment_declines", "dead_letter"),
        )
        + "    average_value: {amount: 50.00, currency: EUR}   # your average order: alerts show the money at risk\n"
        "    signals:\n"
        "      order_rate:\n"
        "        kind: throughput           # records per second; metric flowhealth_flow_throughput_records_per_second\n"
        f"        description: Paid orders per second placed in the shop, averaged over the last {WINDOW_MINUTES} minutes.\n"
        "        probe:\n"
        "          kind: sql\n"
        f"          connection: {p.connection}\n"
        "          # Change table and column to yours; :now_ts is the evaluator's time as a UTC timestamp.\n"
        f"          query: SELECT COUNT(*) / {seconds}.0 FROM orders WHERE placed_at > {since}\n"
        "          interval: 1m\n"
        "          timeout: 10s\n" + _calendar_yaml(p)
    )


def _rules_yaml(p: FlowParams, below: str, above: str, book: str) -> str:
    baseline = f"    baseline: {{season: weekly, history: 4w, resolution: {WINDOW_MINUTES}m, calendar: {p.calendar}}}\n"
    return (
        "# Baseline rules: the threshold is what is usual for this time of week (the same slot of the\n"
        "# last 4 weeks, median with a band), scaled by the calendar. They stay quiet while learning:\n"
        "# alerts start once 2 weeks of history are stored. `flowhealth backtest RULE` replays one over\n"
        "# stored history before you tune it.\n"
        "rules:\n"
        + rule_head(
            p,
            below,
            "    signal: order_rate\n"
            + baseline
            + "    below_expected: {by: 40%, min_expected: 0.02}   # orders/s; quiet nights stay quiet\n"
            "    for: 5m\n"
            "    keep_firing_for: 15m\n"
            "    severity: critical\n"
            '    summary: "Order intake is far below what is usual for this time of week ({{ value | number }} orders/s)"\n'
            "    business_impact: Customers cannot complete checkout; every missing order is revenue the shop does not take.\n"
            f"    runbook: {book}\n"
            "    failure_mode: checkout_down\n",
        )
        + "\n"
        + rule_head(
            p,
            above,
            "    signal: order_rate\n" + baseline + "    above_expected: {by: 150%, min_expected: 0.02}\n"
            "    for: 10m\n"
            "    severity: warning\n"
            '    summary: "Order intake is far above what is usual and no promotion is in the calendar ({{ value | number }} orders/s)"\n'
            "    business_impact: A price error, a bot or an unannounced campaign; stock and the ERP may not keep up.\n"
            f"    runbook: {book}\n",
        )
    )


def checkout_throughput(p: FlowParams) -> Scaffold:
    below, above, book = f"{p.flow}-below-expected", f"{p.flow}-above-expected", f"{p.flow}-unusual"
    text = runbook(
        p,
        "Order intake unusual",
        below,
        "order intake left the band of what is usual for this time of week",
        (
            "Checkout or payment is broken (a release, the PSP, a certificate); intake drops to near zero.",
            "A campaign, price error or bot the calendar does not know; intake rises far above usual.",
        ),
    )
    return Scaffold(_flow_yaml(p), _rules_yaml(p, below, above, book), {book: text})
