"""Console delivery: the same messages, printed, when no Slack token is configured."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from ..store.outbox import ThreadRef
from .base import Delivery
from .blocks import evidence_table, state_word
from .expected import expected_text

RULE = "=" * 78


class ConsoleNotifier:
    """Prints each notification as a readable block of text."""

    min_interval_per_channel = 0.0

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        self._write = write or _stdout
        self._lock = threading.Lock()

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        text = render_text(delivery)
        if text:
            with self._lock:
                self._write(text)
        return thread or ThreadRef("console", delivery.thread_key)


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def render_text(delivery: Delivery) -> str:
    payload = delivery.payload
    if delivery.kind == "post":
        return f"→ {delivery.channel}: {payload['text']}"
    view = payload["view"]
    if delivery.kind == "open":
        return render_incident(view)
    lines = []
    if payload.get("thread_line"):
        lines.append(
            f"  ↳ incident #{view['incident']} ({view['flow']}, {view['owner']['channel']}): {payload['thread_line']}"
        )
    if view["status"] == "resolved":
        lines.append(render_incident(view))
    return "\n".join(lines)


def render_incident(view: dict[str, Any]) -> str:
    owner = view["owner"]
    alerts = view["alerts"]
    word = state_word(view).upper()
    if word == "RESOLVED":
        lines = [RULE, f"RESOLVED  incident #{view['incident']}  {view['flow']}  → {owner['channel']}"]
        for a in alerts:
            comparison = ">" if a["direction"] == "above" else "<"
            lines.append(f"  {a['rule']}: {a['summary']}")
            lines.append(
                f"    value at resolve: {a['value_text']} ({_reference(a, comparison)}), was firing for {a['duration_text']}"
            )
        lines.append(f"  owner: {owner['name']} ({owner['team']})")
        return "\n".join([*lines, RULE])
    primary = alerts[0]
    lines = [
        RULE,
        f"{word} [{view['severity'].upper()}]  {view['flow']} · {primary['rule']}  → {owner['channel']} {owner.get('oncall') or ''}".rstrip(),
        f"  {primary['summary']}",
        f"  business impact: {primary['business_impact']}",
        f"  value: {_against(primary)}, since {primary['since'][:19].replace('T', ' ')} UTC",
        f"  owner: {owner['name']} ({owner['team']})   incident #{view['incident']}",
        f"  runbook: {primary['runbook']['url']}",
        f"  dashboard: {primary['dashboard_url']}",
    ]
    table = evidence_table(primary.get("evidence"))
    if table:
        lines.append("  evidence:")
        lines.extend(f"    {line}" for line in table.splitlines())
    for other in alerts[1:]:
        lines.append(f"  also: {other['rule']}: {other['summary']} [{other['status']}]")
    for child in view.get("suppressed", []):
        lines.append(f"  held under this incident: {child['rule']} on {child['flow']}")
    return "\n".join([*lines, RULE])


def _against(alert: dict[str, Any]) -> str:
    """The value against its threshold, or against what a baseline rule expected."""
    if alert.get("expected"):
        return expected_text(alert)
    comparison = ">" if alert["direction"] == "above" else "<"
    return f"{alert['value_text']} {comparison} threshold {alert['threshold_text']}"


def _reference(alert: dict[str, Any], comparison: str) -> str:
    if alert.get("expected"):
        return expected_text(alert)
    return f"threshold {comparison} {alert['threshold_text']}"
