"""Slack Block Kit for incidents: one message per incident, edited in place as it changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from ..alerting.notices import AlertView, EvidenceTable, IncidentView, Owner
from .expected import reference, value_against
from .mrkdwn import code_block, code_cell, cut, esc, esc_actor
from .text_table import aligned

SEVERITY_ICON = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
STATUS_ICON = {"held": ":wrench:", "silenced": ":zzz:", "suppressed": ":link:", "resolved": ":white_check_mark:"}
MAX_EVIDENCE_ROWS = 10
MAX_TEXT = 2900  # Slack rejects section text over 3,000 characters
MAX_LISTED_ALERTS = 15
MAX_OTHER_EVIDENCE = 3  # other alerts of the incident whose evidence is shown too
ACTIONS = (
    ("flowhealth_ack", "Acknowledge", "primary"),
    ("flowhealth_resolve", "Resolve", None),
    ("flowhealth_silence_1h", "Silence 1h", None),
    ("flowhealth_silence_4h", "Silence 4h", None),
    ("flowhealth_silence_tomorrow", "Silence until tomorrow", None),
    ("flowhealth_silence_custom", "Silence…", None),  # opens a modal: duration, matchers, reason
)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return cut(text, limit)


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "?"


def fallback_text(view: IncidentView) -> str:
    """The plain text of the message: notifications, screen readers, clients without blocks."""
    return f"[{view.state_word.upper()}] {view.severity.upper()} {view.flow}: {esc(view.title)}"


def evidence_table(evidence: EvidenceTable | None) -> str | None:
    """Evidence as an aligned plain-text table (first rows only), or why there is none.

    Plain text for the console; Slack shows `evidence_block`, escaped and fenced.
    """
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
    text = "\n".join(aligned(table))
    more = max(0, len(rows) - MAX_EVIDENCE_ROWS) + evidence.more
    if more:
        text += f"\n{more} more rows"
    return text


class MrkdwnText(TypedDict):
    type: Literal["mrkdwn"]
    text: str


class Section(TypedDict):
    """A Block Kit section with mrkdwn text."""

    type: Literal["section"]
    text: MrkdwnText


def evidence_block(evidence: EvidenceTable | None, title: str) -> Section | None:
    """A section with the evidence in a code block no cell can break out of."""
    if not evidence:
        return None
    if evidence.error:
        return {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(f"*{title}*\nunavailable: {esc(evidence.error)}")},
        }
    if not evidence.rows:
        return None
    columns = [code_cell(c) for c in evidence.columns]
    rows = [[code_cell("" if v is None else v) for v in row] for row in evidence.rows[:MAX_EVIDENCE_ROWS]]
    lines = aligned([columns, *rows])
    # Rows the table holds but the message leaves out, and rows the source found but did not keep
    # (a reconciliation keeps a sample of its failing keys).
    more = max(0, len(evidence.rows) - MAX_EVIDENCE_ROWS) + evidence.more
    # Whole rows only: when the table is too long for one section, drop rows and say how many.
    while lines and len(code_block("\n".join(lines))) + len(title) + 40 > MAX_TEXT:
        lines.pop()
        more += 1
    tail = f"\n_{more} more rows_" if more > 0 else ""
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*{title}*\n{code_block(chr(10).join(lines))}{tail}"},
    }


def _primary_fields(alert: AlertView, owner: Owner) -> list[dict[str, Any]]:
    if alert.kind == "resolved":
        value = f"*Value at resolve*\n{alert.value_text} ({reference(alert)})"
        when = f"*Was firing for*\n{alert.duration_text} (since {_when(alert.since)})"
    else:
        value = (
            f"*Value vs expected*\n{value_against(alert)}"
            if alert.expected is not None
            else f"*Value vs threshold*\n{alert.value_text} {alert.comparison} {alert.threshold_text}"
        )
        when = f"*Since*\n{_when(alert.since)} ({alert.duration_text})"
    labels = esc(", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    return [
        {"type": "mrkdwn", "text": value},
        {"type": "mrkdwn", "text": when},
        {"type": "mrkdwn", "text": f"*Owner*\n{esc(owner.name)} ({owner.channel})"},
        {"type": "mrkdwn", "text": f"*Severity*\n{alert.severity}" + (f"\n{labels}" if labels else "")},
    ]


def _alert_line(alert: AlertView) -> str:
    icon = STATUS_ICON.get(alert.status, SEVERITY_ICON.get(alert.severity, ":red_circle:"))
    labels = esc(", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    note = f" _({esc(alert.note)})_" if alert.note else ""
    name = f"`{alert.rule}`" + (f" {{{labels}}}" if labels else "")
    return f"{icon} {name}: {esc(alert.summary)} — {esc(alert.value_text)}{note}"


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
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"{icon} *{esc(view.title)}*{mention}")}},
    ]
    if primary is not None:
        blocks.append({"type": "section", "fields": _primary_fields(primary, owner)})
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Business impact*\n{esc(primary.business_impact)}")},
            }
        )
        resolved = view.status == "resolved"
        title = "Evidence (at firing time)" if resolved else "Evidence"
        # Every alert keeps its own evidence: a headline change must not hide the first alert's table.
        # Series of one rule share its table (a reconciliation's keys): each table is shown once.
        others = [a for a in alerts[1:] if a.evidence and a.evidence != primary.evidence]
        distinct = [a for i, a in enumerate(others) if all(a.evidence != b.evidence for b in others[:i])]
        shown = [evidence_block(primary.evidence, title)] + [
            evidence_block(other.evidence, f"{title} · {other.rule}") for other in distinct[:MAX_OTHER_EVIDENCE]
        ]
        blocks += [dict(section) for section in shown if section]
    if len(alerts) > 1:
        lines = [_alert_line(a) for a in alerts[:MAX_LISTED_ALERTS]]
        if len(alerts) > MAX_LISTED_ALERTS:
            lines.append(f"… and {len(alerts) - MAX_LISTED_ALERTS} more alerts")
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
            f":link: `{s.rule}` on {s.flow} (owner {esc(s.owner)}) since {_when(s.since)}"
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
        by = f" by {esc_actor(view.resolved_by)}" if view.resolved_by else ""
        parts.append(f"Resolved{by} at {_when(view.resolved_at)}")
    if view.acked_by and view.status != "resolved":
        parts.append(f"Acknowledged by {esc_actor(view.acked_by)} until {_when(view.ack_expires_at)}")
    if view.silence is not None:
        s = view.silence
        parts.append(f"Silenced by {esc_actor(s.author)} until {_when(s.until)}: {esc(s.reason)}")
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
