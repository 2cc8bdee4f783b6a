"""What each number means for the business: panel descriptions and rule conditions in words."""

from __future__ import annotations

from ..model.baseline_rule import BaselineRule
from ..model.durations import format_duration, format_number
from ..model.model import Model
from ..model.schema import SignalKind

KIND_STORIES: dict[SignalKind, str] = {
    SignalKind.DELAY: "How long the oldest business object has waited to reach its target. "
    "Above the threshold, the flow breaks the latency promise made to customers or finance.",
    SignalKind.STALENESS: "How old the data in the target is. Stale stock oversells, stale prices charge "
    "the wrong amount; above the threshold the target shows outdated facts.",
    SignalKind.DEPTH: "Messages waiting in the integration queue. A growing backlog is work the target "
    "system has not taken yet, and every message in it is a delayed business object.",
    SignalKind.CONSUMERS: "Consumers reading the integration queue. Zero means nothing is moving.",
    SignalKind.MISMATCHES: "Records that disagree between source and target. Each one is a customer, "
    "order or booking that somebody has to explain or fix.",
    SignalKind.MISMATCH_AMOUNT: "Money that source and target disagree about, per currency. "
    "Finance cannot close the period while it is unexplained.",
    SignalKind.INTERVENTIONS: "Records people fixed by hand. Each one costs an agent's time and hides a "
    "defect the integration still has.",
    SignalKind.REJECTIONS: "Payloads the target refused. A rejected object never arrives unless someone "
    "fixes and resends it.",
    SignalKind.DUPLICATES: "Records processed more than once: double shipments, double bookings.",
    SignalKind.RETRIES: "Retries the integration needed; rising retries announce an outage.",
    SignalKind.THROUGHPUT: "Business objects the flow moves per second; a drop to zero is a stopped flow.",
    SignalKind.RECORDS: "Records counted by the signal's probe.",
    SignalKind.RATIO: "A share (0 to 100%) measured by the signal's probe.",
    SignalKind.CONTRACT_VIOLATIONS: "Payloads that break the flow's contract, by field and reason. Each one "
    "is an order or record the target will reject, or accept wrongly, until the mapping is fixed.",
}


def format_threshold(kind: SignalKind, value: float) -> str:
    if kind.is_time:
        return format_duration(value)
    return format_number(value)


def rule_condition(model: Model, rule_id: str) -> str:
    """E.g. 'above 15m for 5m (critical, to erp-basis)'."""
    rule = model.rules[rule_id]
    held = f" for {format_duration(rule.for_)}" if rule.for_.total_seconds() else ""
    if isinstance(rule, BaselineRule):
        spec = rule.baseline
        sides = [s for s, d in (("below", rule.below_expected), ("above", rule.above_expected)) if d is not None]
        band = f"{' or '.join(sides)} the expected band ({spec.season.value}, {format_duration(spec.history)} history)"
        return f"{band}{held} ({rule.severity}, to {model.rule_owner(rule_id)})"
    direction, threshold = model.rule_threshold(rule_id)
    kind = model.signal(rule.flow, rule.signal).kind
    held = f" for {format_duration(rule.for_)}" if rule.for_.total_seconds() else ""
    return f"{direction} {format_threshold(kind, threshold)}{held} ({rule.severity}, to {model.rule_owner(rule_id)})"


def one_line(text: str) -> str:
    return " ".join(text.split())
