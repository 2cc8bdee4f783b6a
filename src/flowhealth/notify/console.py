"""Console delivery: the same messages, printed, when no Slack token is configured."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from ..alerting.enums import IncidentStatus, NoticeKind
from ..alerting.notices import IncidentView
from ..store.outbox import ThreadRef
from .base import Delivery
from .blocks import evidence_table
from .expected import reference, value_against
from .wording import message_text, thread_text

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
    message = delivery.message
    view = message.view
    if delivery.kind == NoticeKind.POST or view is None:
        return f"→ {delivery.channel}: {message_text(message)}"
    if delivery.kind == NoticeKind.OPEN:
        return render_incident(view)
    lines = []
    line = thread_text(message)
    if line:
        lines.append(f"  ↳ incident #{view.incident} ({view.flow}, {view.owner.channel}): {line}")
    if view.status == IncidentStatus.RESOLVED:
        lines.append(render_incident(view))
    return "\n".join(lines)


def render_incident(view: IncidentView) -> str:
    owner = view.owner
    alerts = view.alerts
    if view.status == IncidentStatus.RESOLVED:
        lines = [RULE, f"RESOLVED  incident #{view.incident}  {view.flow}  → {owner.channel}"]
        for a in alerts:
            lines.append(f"  {a.rule}: {a.summary}")
            lines.append(f"    value at resolve: {a.value_text} ({reference(a)}), was firing for {a.duration_text}")
        lines.append(f"  owner: {owner.name} ({owner.team})")
        return "\n".join([*lines, RULE])
    primary = alerts[0]
    lines = [
        RULE,
        f"{view.state_word.upper()} [{view.severity.upper()}]  {view.flow} · {primary.rule}  → {owner.channel} {owner.oncall or ''}".rstrip(),
        f"  {primary.summary}",
        f"  business impact: {primary.business_impact}",
        f"  value: {value_against(primary)}, since {primary.since:%Y-%m-%d %H:%M:%S} UTC",
        f"  owner: {owner.name} ({owner.team})   incident #{view.incident}",
        f"  runbook: {primary.runbook.url}",
        f"  dashboard: {primary.dashboard_url}",
    ]
    table = evidence_table(primary.evidence)
    if table:
        lines.append("  evidence:")
        lines.extend(f"    {line}" for line in table.splitlines())
    for other in alerts[1:]:
        lines.append(f"  also: {other.rule}: {other.summary} [{other.status}]")
    for child in view.suppressed:
        lines.append(f"  held under this incident: {child.rule} on {child.flow}")
    return "\n".join([*lines, RULE])
