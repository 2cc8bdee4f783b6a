"""Signal value metric names and help texts, and the journey latency buckets, without their collectors.

The exports (rule files, their promtool tests, dashboards) need only the names; importing them
from `metrics` pulled in prometheus-client, SQLAlchemy and the state tables, about half a second
of every `flowhealth export` (issue 19).
"""

from __future__ import annotations

from .model.schema import SignalKind

# Upper bounds (seconds) of journey latency histograms, exposed and stored per minute alike: business
# latencies run from seconds to days. Here, not in `metrics`, so the span fold's measures need no collectors.
LATENCY_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
LATENCY_BUCKETS += (172800.0, 604800.0, float("inf"))

SIGNAL_METRICS: dict[SignalKind, tuple[str, str]] = {
    SignalKind.DELAY: (
        "flowhealth_flow_delay_seconds",
        "Age of the oldest item a flow has not delivered yet.",
    ),
    SignalKind.STALENESS: (
        "flowhealth_flow_staleness_seconds",
        "Time since a flow's target last received fresh data.",
    ),
    SignalKind.DEPTH: (
        "flowhealth_flow_queue_depth_messages",
        "Messages waiting in a flow's queue.",
    ),
    SignalKind.CONSUMERS: (
        "flowhealth_flow_queue_consumers",
        "Consumers attached to a flow's queue.",
    ),
    SignalKind.MISMATCHES: (
        "flowhealth_flow_mismatched_records",
        "Records that disagree between source and target.",
    ),
    SignalKind.MISMATCH_AMOUNT: (
        "flowhealth_flow_mismatch_amount",
        "Unexplained amount between source and target, per currency.",
    ),
    SignalKind.INTERVENTIONS: (
        "flowhealth_flow_manual_interventions",
        "Records fixed by hand in the signal's window.",
    ),
    SignalKind.REJECTIONS: (
        "flowhealth_flow_rejected_payloads",
        "Payloads the target rejected in the signal's window.",
    ),
    SignalKind.DUPLICATES: (
        "flowhealth_flow_duplicate_records",
        "Records processed more than once in the signal's window.",
    ),
    SignalKind.RETRIES: ("flowhealth_flow_retries", "Retries in the signal's window."),
    SignalKind.THROUGHPUT: (
        "flowhealth_flow_throughput_records_per_second",
        "Records a flow moves per second.",
    ),
    SignalKind.RECORDS: ("flowhealth_flow_records", "Records counted by a flow's signal."),
    SignalKind.RATIO: ("flowhealth_flow_ratio", "A ratio measured by a flow's signal (0 to 1)."),
    SignalKind.CONTRACT_VIOLATIONS: (
        "flowhealth_flow_contract_violating_payloads",
        "Payloads that break the flow's contract, by field and reason.",
    ),
}
