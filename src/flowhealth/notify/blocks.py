"""Slack Block Kit for incidents: one message per incident, edited in place as it changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..alerting.notices import AlertView, EvidenceTable, IncidentView, Owner

SEVERITY_ICON = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
STATUS_ICON = {"held": ":wrench:", "silenced": ":zzz:", "suppressed": ":link:", "resolved": ":white_check_mark:"}
MAX_EVIDENCE_ROWS = 10
MAX_TEXT = 2900  # Slack rejects section text over 3,000 characters
MAX_LISTED_ALERTS = 15
ACTIONS = (
    ("flowhealth_ack", "Acknowledge", "primary"),
    ("flowhealth_resolve", "Resolve", None),
    ("flowhealth_silence_1h", "Silence 1h", None),
    ("flowhealth_silence_4h", "Silence 4h", None),
    ("flowhealth_silence_tomorrow", "Silence until tomorrow", None),
)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "?"


def fallback_text(view: IncidentView) -> str:
    """The plain text of the message: notifications, screen readers, clients without blocks."""
    return f"[{view.state_word.upper()}] {view.severity.upper()} {view.flow}: {view.title}"


def evidence_table(evidence: EvidenceTable | None) -> str | None:
    """Evidence as an aligned plain-text table (first rows only), or why there is none."""
    if not evidence:
        return None
    if evidence.error:
        return f"evidence unavailable: {evidence.error}"
    columns, rows = evidence.columns, evidence.rows
    if not rows:
        return None
    table = [[str(c) for c in columns]] + [
        ["" if v is None else str(v) for v in row] for row in rows[:MAX_EVIDENCE_ROWS]
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table)


def _primary_fields(alert: AlertView, owner: Owner) -> list[dict[str, Any]]:
    if alert.kind == "resolved":
        value = f"*Value at resolve*\n{alert.value_text} (threshold {alert.comparison} {alert.threshold_text})"
        when = f"*Was firing for*\n{alert.duration_text} (since {_when(alert.since)})"
    else:
        value = f"*Value vs threshold*\n{alert.value_text} {alert.comparison} {alert.threshold_text}"
        when = f"*Since*\n{_when(alert.since)} ({alert.duration_text})"
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    return [
        {"type": "mrkdwn", "text": value},
        {"type": "mrkdwn", "text": when},
        {"type": "mrkdwn", "text": f"*Owner*\n{owner.name} ({owner.channel})"},
        {"type": "mrkdwn", "text": f"*Severity*\n{alert.severity}" + (f"\n{labels}" if labels else "")},
    ]


def _alert_line(alert: AlertView) -> str:
    icon = STATUS_ICON.get(alert.status, SEVERITY_ICON.get(alert.severity, ":red_circle:"))
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    note = f" _({alert.note})_" if alert.note else ""
    name = f"`{alert.rule}`" + (f" {{{labels}}}" if labels else "")
    return f"{icon} {name}: {alert.summary} — {alert.value_text}{note}"


def incident_blocks(view: IncidentView) -> list[dict[str, Any]]:
    """The blocks of an incident in its current state."""
    alerts, owner = view.alerts, view.owner
    primary = view.primary
    word = view.state_word
    icon = ":white_check_mark:" if view.status == "resolved" else SEVERITY_ICON.get(view.severity, ":red_circle:")
    mention = f" {owner.oncall}" if owner.oncall and word == "Firing" else ""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{word}: {view.flow} · incident #{view.incident}", 150),
                "emoji": True,
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"{icon} *{view.title}*{mention}")}},
    ]
    if primary is not None:
        blocks.append({"type": "section", "fields": _primary_fields(primary, owner)})
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Business impact*\n{primary.business_impact}")},
            }
        )
        table = evidence_table(primary.evidence)
        if table:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Evidence*\n```{table}```")}})
    if len(alerts) > 1:
        lines = [_alert_line(a) for a in alerts[:MAX_LISTED_ALERTS]]
        if len(alerts) > MAX_LISTED_ALERTS:
            lines.append(f"… and {len(alerts) - MAX_LISTED_ALERTS} more")
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(f"*Alerts in this incident ({len(alerts)})*\n" + "\n".join(lines)),
                },
            }
        )
    if view.suppressed:
        lines = [
            f":link: `{s.rule}` on {s.flow} (owner {s.owner}) since {_when(s.since)}"
            for s in view.suppressed[:MAX_LISTED_ALERTS]
        ]
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut("*Held under this incident*\n" + "\n".join(lines))},
            }
        )
    status = _status_line(view)
    if status:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(status, 2000)}]})
    blocks.append({"type": "actions", "block_id": f"incident:{view.incident}", "elements": _buttons(view, primary)})
    return blocks


def _status_line(view: IncidentView) -> str:
    parts = []
    if view.status == "resolved":
        by = f" by {view.resolved_by}" if view.resolved_by else ""
        parts.append(f"Resolved{by} at {_when(view.resolved_at)}")
    if view.acked_by and view.status != "resolved":
        parts.append(f"Acknowledged by {view.acked_by} until {_when(view.ack_expires_at)}")
    if view.silence is not None:
        s = view.silence
        parts.append(f"Silenced by {s.author} until {_when(s.until)}: {s.reason}")
    if view.escalations:
        parts.append(f"Escalated {view.escalations} time(s)")
    return " · ".join(parts)


def _buttons(view: IncidentView, primary: AlertView | None) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    if view.status != "resolved":
        for action_id, label, style in ACTIONS:
            if action_id == "flowhealth_ack" and view.acked_by:
                continue
            button: dict[str, Any] = {
                "type": "button",
                "action_id": action_id,
                "value": str(view.incident),
                "text": {"type": "plain_text", "text": label},
            }
            if style:
                button["style"] = style
            elements.append(button)
    if primary is not None and primary.incident_url:
        elements.append(
            {
                "type": "button",
                "action_id": "flowhealth_open_incident",
                "url": primary.incident_url,
                "text": {"type": "plain_text", "text": "Open incident"},
            }
        )
    if primary is not None:
        elements.append(
            {
                "type": "button",
                "action_id": "flowhealth_open_runbook",
                "url": primary.runbook.url,
                "text": {"type": "plain_text", "text": "Open runbook"},
            }
        )
        elements.append(
            {
                "type": "button",
                "action_id": "flowhealth_open_dashboard",
                "url": primary.dashboard_url,
                "text": {"type": "plain_text", "text": "Open dashboard"},
            }
        )
    return elements
