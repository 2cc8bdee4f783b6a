"""Slack Block Kit for alert messages: one message per incident, edited in place as it changes."""

from __future__ import annotations

from typing import Any

SEVERITY_ICON = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}
MAX_EVIDENCE_ROWS = 10
MAX_TEXT = 2900  # Slack rejects section text over 3,000 characters


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fallback_text(payload: dict[str, Any]) -> str:
    """The plain text of the message: notifications, screen readers, and clients without blocks."""
    state = "RESOLVED" if payload["kind"] == "resolved" else "FIRING"
    return f"[{state}] {payload['severity'].upper()} {payload['flow']}: {payload['summary']}"


def evidence_table(evidence: dict[str, Any] | None) -> str | None:
    if not evidence:
        return None
    if evidence.get("error"):
        return f"evidence unavailable: {evidence['error']}"
    columns, rows = evidence.get("columns") or [], evidence.get("rows") or []
    if not rows:
        return None
    table = [[str(c) for c in columns]] + [
        ["" if v is None else str(v) for v in row] for row in rows[:MAX_EVIDENCE_ROWS]
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table]
    return "\n".join(lines)


def alert_blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The Block Kit blocks of an alert in its current state."""
    resolved = payload["kind"] == "resolved"
    icon = ":white_check_mark:" if resolved else SEVERITY_ICON.get(payload["severity"], ":red_circle:")
    state = "Resolved" if resolved else "Firing"
    owner = payload["owner"]
    mention = f" {owner['oncall']}" if owner.get("oncall") and not resolved else ""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(payload.get("labels", {}).items()))
    comparison = ">" if payload["direction"] == "above" else "<"
    if resolved:
        value_field = (
            f"*Value at resolve*\n{payload['value_text']} (threshold {comparison} {payload['threshold_text']})"
        )
        when_field = (
            f"*Was firing for*\n{payload['duration_text']} (since {payload['since'][:16].replace('T', ' ')} UTC)"
        )
    else:
        value_field = f"*Value vs threshold*\n{payload['value_text']} {comparison} {payload['threshold_text']}"
        when_field = f"*Since*\n{payload['since'][:16].replace('T', ' ')} UTC ({payload['duration_text']})"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{state}: {payload['flow']} · {payload['rule']}", 150),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(f"{icon} *{payload['summary']}*{mention}")},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": value_field},
                {"type": "mrkdwn", "text": when_field},
                {"type": "mrkdwn", "text": f"*Owner*\n{owner['name']} ({owner['channel']})"},
                {
                    "type": "mrkdwn",
                    "text": f"*Severity*\n{payload['severity']}" + (f"\n{labels}" if labels else ""),
                },
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(f"*Business impact*\n{payload['business_impact']}"),
            },
        },
    ]
    table = evidence_table(payload.get("evidence"))
    if table:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Evidence*\n```{table}```")},
            }
        )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"links:{payload['rule']}",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open runbook"},
                    "url": payload["runbook"]["url"],
                    "action_id": "open_runbook",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open dashboard"},
                    "url": payload["dashboard_url"],
                    "action_id": "open_dashboard",
                },
            ],
        }
    )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _cut(
                        f"{payload['flow_description']} · runbook: <{payload['runbook']['url']}|{payload['runbook']['title']}>",
                        2000,
                    ),
                }
            ],
        }
    )
    return blocks


def resolve_reply(payload: dict[str, Any]) -> str:
    """The thread line that records a resolve."""
    return f":white_check_mark: Resolved at {payload['at'][:19].replace('T', ' ')} UTC with value {payload['value_text']} after {payload['duration_text']}."
