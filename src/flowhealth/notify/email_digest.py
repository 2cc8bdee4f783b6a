"""The daily digest as a mail: one line (plain) or table row (HTML) per incident, in local time.

Each digest stands alone (no thread): it is a summary, not news about one incident. Its
Message-ID derives from the outbox's dedup key (receiver and date), so a digest re-sent after an
ambiguous failure is recognisably the same mail.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from ..alerting.notices import Digest, DigestEntry
from ..model.durations import human_duration
from ..model.receivers import EmailReceiver


def compose_digest(digest: Digest, receiver: EmailReceiver, message_id: str) -> EmailMessage:
    mail = EmailMessage()
    zone = ZoneInfo(digest.timezone)
    day = digest.until.astimezone(zone)
    count = len(digest.entries)
    mail["Subject"] = (
        f"flowhealth daily digest for {digest.team}, {day:%a %d %b %Y}: "
        f"{count} incident{'s' if count != 1 else ''}, {_open_count(digest)} still open"
    )
    mail["From"] = receiver.sender
    mail["To"] = ", ".join(receiver.to)
    mail["Message-ID"] = message_id
    mail["Date"] = format_datetime(digest.until)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    mail.set_content(plain_digest(digest))
    mail.add_alternative(html_digest(digest), subtype="html")
    return mail


def _open_count(digest: Digest) -> int:
    return sum(1 for e in digest.entries if e.resolved_at is None)


def _local(at: datetime, digest: Digest) -> str:
    return f"{at.astimezone(ZoneInfo(digest.timezone)):%a %d %b %H:%M}"


def period(digest: Digest) -> str:
    return f"{_local(digest.since, digest)} to {_local(digest.until, digest)} ({digest.timezone})"


def outcome(entry: DigestEntry, digest: Digest) -> str:
    """`resolved after 25m by carol`, `still open, acknowledged by carol`, ..."""
    if entry.resolved_at is not None:
        took = human_duration(entry.resolved_at - entry.opened_at)
        return f"resolved after {took}" + (f" by {entry.resolved_by}" if entry.resolved_by else "")
    return "still open" + (f", acknowledged by {entry.acked_by}" if entry.acked_by else ", not acknowledged")


def plain_digest(digest: Digest) -> str:
    lines = [f"Incidents of {digest.team} from {period(digest)}:", ""]
    for entry in digest.entries:
        lines.append(f"#{entry.incident} [{entry.severity}] {entry.title}")
        where = f"flow {entry.flow}, " if entry.flow else ""
        lines.append(f"    {where}opened {_local(entry.opened_at, digest)}, {outcome(entry, digest)}")
        if entry.url:
            lines.append(f"    {entry.url}")
    lines += ["", "Critical incidents are mailed as they happen; this digest gathers the rest."]
    return "\n".join(lines) + "\n"


def html_digest(digest: Digest) -> str:
    e = html.escape
    rows = "".join(
        "<tr>"
        + f"<td>{_link(entry)}</td><td>{e(entry.severity)}</td><td>{e(entry.title)}</td>"
        + f"<td>{e(entry.flow or '')}</td><td>{e(_local(entry.opened_at, digest))}</td>"
        + f"<td>{e(outcome(entry, digest))}</td></tr>"
        for entry in digest.entries
    )
    head = "".join(f"<th>{h}</th>" for h in ("Incident", "Severity", "Title", "Flow", "Opened", "Outcome"))
    return (
        "<!doctype html><html><body>"
        f"<h2>Incidents of {e(digest.team)}</h2><p>{e(period(digest))}</p>"
        f"<table border=1><tr>{head}</tr>{rows}</table>"
        "<p>Critical incidents are mailed as they happen; this digest gathers the rest.</p>"
        "</body></html>"
    )


def _link(entry: DigestEntry) -> str:
    label = f"#{entry.incident}"
    if entry.url:
        return f'<a href="{html.escape(entry.url)}">{label}</a>'
    return label
