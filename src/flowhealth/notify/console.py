"""Console delivery: the same messages, printed, when no Slack token is configured."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from ..store.outbox import ThreadRef
from .base import Delivery
from .blocks import evidence_table


class ConsoleNotifier:
    """Prints each notification as a readable block of text."""

    min_interval_per_channel = 0.0

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        self._write = write or _stdout
        self._lock = threading.Lock()

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        with self._lock:
            self._write(render_text(delivery))
        return thread or ThreadRef("console", delivery.thread_key)


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def render_text(delivery: Delivery) -> str:
    p = delivery.payload
    owner = p["owner"]
    comparison = ">" if p["direction"] == "above" else "<"
    rule = "=" * 78
    if p["kind"] == "resolved":
        lines = [
            rule,
            f"RESOLVED  {p['flow']} · {p['rule']}  → {owner['channel']}",
            f"  {p['summary']}",
            f"  value at resolve: {p['value_text']} (threshold {comparison} {p['threshold_text']}), was firing for {p['duration_text']}",
            f"  owner: {owner['name']} ({owner['team']})   runbook: {p['runbook']['url']}",
            rule,
        ]
        return "\n".join(lines)
    lines = [
        rule,
        f"FIRING [{p['severity'].upper()}]  {p['flow']} · {p['rule']}  → {owner['channel']} {owner.get('oncall') or ''}".rstrip(),
        f"  {p['summary']}",
        f"  business impact: {p['business_impact']}",
        f"  value: {p['value_text']} {comparison} threshold {p['threshold_text']}, since {p['since'][:19].replace('T', ' ')} UTC",
        f"  owner: {owner['name']} ({owner['team']})",
        f"  runbook: {p['runbook']['url']}",
        f"  dashboard: {p['dashboard_url']}",
    ]
    table = evidence_table(p.get("evidence"))
    if table:
        lines.append("  evidence:")
        lines.extend(f"    {line}" for line in table.splitlines())
    lines.append(rule)
    return "\n".join(lines)
