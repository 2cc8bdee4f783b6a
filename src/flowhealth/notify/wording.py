"""How notices read in chat: the one place their sentences are written (Slack and console share them).

Other channels (PagerDuty, Teams, email) may word things their own way from the same typed
`Notice`; these are the chat sentences. Nothing here decides anything: a message's notices and
view say what happened, this only puts it into words.
"""

from __future__ import annotations

from ..alerting.notices import (
    AckExpired,
    Acknowledged,
    Cleared,
    Escalated,
    EvidenceTable,
    ExternalAlert,
    IncidentView,
    Joined,
    Message,
    Note,
    Notice,
    NoticeKind,
    Opened,
    Reopened,
    Resolved,
    SilenceEnded,
    SilenceStarted,
)
from ..model.durations import human_duration


def _minute(notice_at: object) -> str:
    return f"{notice_at:%Y-%m-%d %H:%M} UTC"


def thread_line(notice: Notice, view: IncidentView | None) -> str | None:
    """The reply in an incident's thread that reports `notice`; None when the edit says it all."""
    match notice:
        case Joined(rule=rule, severity=severity, interrupts_ack=str(acker)):
            owner = view.owner if view else None
            call = (owner.oncall or owner.channel) if owner else ""
            return (
                f":rotating_light: New failure while acknowledged by {acker}: {rule} ({severity}). "
                f"{call} the acknowledgement no longer covers it; acknowledge again."
            ).replace("  ", " ")
        case Joined(rule=rule, severity=severity, note=note):
            return f":red_circle: Also firing: {rule} ({severity})" + (f" — {note}" if note else "")
        case Cleared(rule=rule, value=value, value_text=value_text):
            shown = value_text or ("unknown" if value is None else f"{value:g}")
            return f":white_check_mark: {rule} resolved at {shown}"
        case AckExpired(by=by, oncall=oncall):
            return f":hourglass: The acknowledgement by {by} expired and this still holds. {oncall or ''}".rstrip()
        case Escalated(waited_seconds=waited, target=None):
            owner = view.owner if view else None
            call = (owner.oncall or owner.channel) if owner else ""
            return f":bell: Still not acknowledged after {human_duration(waited)}. {call}".rstrip()
        case Escalated(waited_seconds=waited, target=target) if target is not None:
            who = target.oncall or target.name
            return f":rotating_light: Not acknowledged after {human_duration(waited)}: escalating to {who} ({target.channel})."
        case Acknowledged(by=by, until=until):
            return f":eyes: Acknowledged by {by} until {_minute(until)}."
        case Resolved(by=str(by)):
            return f":white_check_mark: Resolved by {by}."
        case Resolved(after_seconds=after, values=values):
            took = human_duration(after or 0.0)
            return (
                f":white_check_mark: Resolved after {took}: "
                + ", ".join(f"{v.rule} at {v.value_text}" for v in values)
                + "."
            )
        case SilenceStarted(silence=s):
            return f":zzz: Silenced by {s.author} until {_minute(s.until)}: {s.reason}"
        case SilenceEnded(silence=s, by=str(by)):
            return f":bell: Silence #{s.id} ended by {by}."
        case SilenceEnded(silence=s):
            return f":bell: Silence #{s.id} has ended."
        case Reopened():
            return ":repeat: Firing again after it was resolved."
        case ExternalAlert() as alert:
            return external_alert_line(alert)
        case Note(text=text):
            return text
        case Opened():
            return None
    return None


def external_alert_line(alert: ExternalAlert) -> str:
    """An Alertmanager alert naming no rule: what it says, and that flowhealth knows no rule for it."""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    if alert.status == "resolved":
        return f":white_check_mark: Alertmanager: {alert.alertname} has resolved ({labels})."
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return (
        f":rotating_light: Alertmanager: {alert.alertname} ({alert.severity}) is firing"
        + (f": {summary}" if summary else "")
        + f" ({labels}). No rule of the model names it, so it comes to {alert.team}."
    )


def post_text(notice: Notice, view: IncidentView | None) -> str:
    """A message of its own: an escalation to another team's channel, or a silence announcement."""
    match notice:
        case Escalated(waited_seconds=waited, target=target) if target is not None and view is not None:
            runbook = view.runbook.url if view.runbook else ""
            return (
                f":rotating_light: Escalated to {target.oncall or target.name}: {view.title} "
                f"(flow {view.flow}, owned by {view.owner.name} in {view.owner.channel}, "
                f"unacknowledged for {human_duration(waited)}). Runbook: {runbook}"
            )
        case SilenceStarted(silence=s):
            return f":zzz: Silence #{s.id} by {s.author} until {_minute(s.until)} ({s.matchers_text}): {s.reason}"
        case SilenceEnded(silence=s):
            return f":bell: Silence #{s.id} ({s.matchers_text}) has ended."
    return thread_line(notice, view) or ""


def thread_text(message: Message) -> str | None:
    """Every notice of an update as one thread reply (one line each), or None when there is none."""
    lines = [line for n in message.notices if (line := thread_line(n, message.view))]
    return "\n".join(lines) or None


def message_text(message: Message) -> str:
    """The text of a post (kind `post`): its notices, each in its own words."""
    if message.kind != NoticeKind.POST:
        return thread_text(message) or ""
    return "\n".join(post_text(n, message.view) for n in message.notices)


def more_rows(evidence: EvidenceTable, shown: int) -> str | None:
    """``12 more rows`` under a cut table: rows past those shown, plus rows the source found but did
    not keep (a reconciliation keeps a sample of its failing keys); None when nothing was left out."""
    more = max(0, len(evidence.rows) - shown) + evidence.more
    if not more:
        return None
    return f"{more:,} more row" + ("" if more == 1 else "s")
