"""Email over SMTP: one thread per incident, HTML and plain text, STARTTLS and auth from ${ENV}.

The first mail of an incident is the thread's anchor; every later one answers it
(``In-Reply-To`` and ``References``), so mail clients show an incident as one conversation.
Message-IDs derive from the outbox's dedup key: a mail re-sent after an ambiguous failure has
the same Message-ID, which mail clients and many servers treat as the same mail.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime

from ..alerting.enums import IncidentStatus
from ..alerting.notices import EvidenceTable, IncidentView, Message
from ..errors import ConfigError, DeliveryRejected, DeliveryRetryable
from ..model.envref import resolve
from ..model.receivers import EmailReceiver
from ..store.outbox import ThreadRef
from .base import Delivery
from .email_digest import compose_digest
from .plain import headline, notice_lines
from .text_table import aligned
from .wording import more_rows

TIMEOUT_SECONDS = 15.0
EVIDENCE_ROWS = 20
DOMAIN = "flowhealth.invalid"


def message_id(dedup_key: str) -> str:
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:24]
    return f"<{digest}@{DOMAIN}>"


def subject(message: Message) -> str:
    view = message.view
    if view is None:
        return headline(message)
    return f"[{view.state_word.upper()}] flowhealth #{view.incident}: {view.title}"


def compose(delivery: Delivery, receiver: EmailReceiver, anchor: str | None) -> EmailMessage:
    """The mail for one outbox message; `anchor` is the Message-ID of the incident's first mail."""
    message = delivery.message
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = receiver.sender
    mail["To"] = ", ".join(receiver.to)
    mail["Message-ID"] = message_id(delivery.dedup_key)
    if message.notices:
        mail["Date"] = format_datetime(message.notices[0].at)
    if anchor is not None and anchor != mail["Message-ID"]:
        mail["In-Reply-To"] = anchor
        mail["References"] = anchor
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to alerts
    mail.set_content(plain_text(message))
    mail.add_alternative(html_text(message), subtype="html")
    return mail


def plain_text(message: Message) -> str:
    lines = [headline(message), ""]
    lines += notice_lines(message)
    view = message.view
    if view is not None:
        lines += ["", *_facts(view)]
        if view.business_impact:
            lines += ["", f"Business impact: {view.business_impact}"]
        if view.evidence is not None and view.evidence.rows:
            lines += ["", _evidence_title(view), _evidence_text(view.evidence)]
        lines += ["", *(f"{name}: {url}" for name, url in _links(view))]
    return "\n".join(lines).rstrip() + "\n"


def html_text(message: Message) -> str:
    e = html.escape
    parts = [f"<h2>{e(headline(message))}</h2>"]
    parts += [f"<p>{e(line)}</p>" for line in notice_lines(message)]
    view = message.view
    if view is not None:
        parts.append(
            "<table>"
            + "".join(f"<tr><th align=left>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _fact_pairs(view))
            + "</table>"
        )
        if view.business_impact:
            parts.append(f"<p><b>Business impact:</b> {e(view.business_impact)}</p>")
        if view.evidence is not None and view.evidence.rows:
            table = view.evidence
            head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                for row in table.rows[:EVIDENCE_ROWS]
            )
            parts.append(f"<h3>{e(_evidence_title(view))}</h3><table border=1><tr>{head}</tr>{rows}</table>")
            more = more_rows(table, EVIDENCE_ROWS)
            if more:
                parts.append(f"<p>{e(more)}</p>")
        parts.append("<p>" + " · ".join(f'<a href="{e(url)}">{e(name)}</a>' for name, url in _links(view)) + "</p>")
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>"


def _fact_pairs(view: IncidentView) -> list[tuple[str, str]]:
    pairs = [("Flow", view.flow), ("Severity", view.severity), ("Owner", f"{view.owner.name} ({view.owner.channel})")]
    if view.primary is not None:
        p = view.primary
        pairs.insert(0, ("Value", f"{p.value_text} ({p.comparison} {p.threshold_text})"))
        pairs.append(("Firing for", p.duration_text))
    if view.acked_by:
        pairs.append(("Acknowledged by", view.acked_by))
    return pairs


def _facts(view: IncidentView) -> list[str]:
    return [f"{k}: {v}" for k, v in _fact_pairs(view)]


def _evidence_title(view: IncidentView) -> str:
    return "Evidence (at firing time)" if view.status == IncidentStatus.RESOLVED else "Evidence"


def _evidence_text(table: EvidenceTable) -> str:
    rows = [table.columns, *([("" if v is None else str(v)) for v in row] for row in table.rows[:EVIDENCE_ROWS])]
    text = "\n".join(aligned(rows))
    more = more_rows(table, EVIDENCE_ROWS)
    return text + (f"\n{more}" if more else "")


def _links(view: IncidentView) -> list[tuple[str, str]]:
    links = []
    if view.primary is not None and view.primary.incident_url:
        links.append((f"Incident #{view.incident}", view.primary.incident_url))
    if view.runbook is not None:
        links.append(("Runbook", view.runbook.url))
    if view.dashboard_url:
        links.append(("Dashboard", view.dashboard_url))
    return links


class EmailNotifier:
    """Sends each message as a mail through one SMTP server."""

    min_interval_per_channel = 0.0

    def __init__(self, key: str, receiver: EmailReceiver, environ: Mapping[str, str]) -> None:
        self._key = key
        self._receiver = receiver
        self._environ = environ

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        digest = delivery.message.digest
        if digest is not None:
            own_id = message_id(delivery.dedup_key)
            self.send(compose_digest(digest, self._receiver, own_id))
            return ThreadRef(self._key, own_id)
        anchor = thread.message_ts if thread is not None else message_id(delivery.dedup_key)
        self.send(compose(delivery, self._receiver, anchor))
        return thread or ThreadRef(self._key, anchor)

    def send(self, mail: EmailMessage) -> None:
        smtp = self._receiver.smtp
        where = f"receiver {self._key}"
        try:
            username = resolve(smtp.username, self._environ, where=where) if smtp.username else None
            password = resolve(smtp.password, self._environ, where=where) if smtp.password else None
        except ConfigError as exc:
            raise DeliveryRejected(str(exc)) from None
        what = f"SMTP server of {self._key}"
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS) as client:
                client.ehlo()
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if username is not None:
                    client.login(username, password or "")
                client.send_message(mail)
        except (ConnectionRefusedError, socket.gaierror) as exc:
            raise DeliveryRetryable(f"{what} is unreachable ({type(exc).__name__})") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryRejected(f"{what} refused the login ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise DeliveryRetryable(f"{what} answered {exc.smtp_code}; trying again later") from None
            raise DeliveryRejected(f"{what} refused the mail ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryRejected(f"{what} refused every recipient") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryRetryable(f"{what} failed: {type(exc).__name__}; it may have arrived") from None
