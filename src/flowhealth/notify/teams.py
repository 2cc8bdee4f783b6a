"""Microsoft Teams through a Workflows webhook: one Adaptive Card per message.

Workflows webhooks cannot edit a card, so every message (opened, escalated, acknowledged,
resolved) is a new card carrying the whole picture, as the Slack message would show it at that
moment: title and state, value against threshold, business impact, owner, evidence and links.
Cards use Adaptive Card 1.5, the newest version Teams renders, and stay under Teams' 28 KB
message limit by dropping evidence rows first (saying how many were left out).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..alerting.enums import IncidentStatus
from ..alerting.notices import EvidenceTable, IncidentView, Message
from ..errors import ConfigError, DeliveryRejected
from ..model.envref import resolve
from ..model.receivers import TeamsReceiver
from ..store.outbox import ThreadRef
from .adaptive_card import AdaptiveCard, Element, Envelope, Fact, OpenUrl, TableCell, TableRow, text_block
from .base import Delivery
from .http_post import new_client, post_json
from .plain import headline, notice_lines
from .wording import more_rows

if TYPE_CHECKING:
    import httpx

CARD_VERSION = "1.5"
MAX_BYTES = 28 * 1024
EVIDENCE_ROWS = 10
_STYLE = {"critical": "attention", "warning": "warning", "info": "accent"}


def card(message: Message, evidence_rows: int = EVIDENCE_ROWS) -> AdaptiveCard:
    """The Adaptive Card for a message."""
    view = message.view
    body: list[Element] = [text_block(headline(message), bold=True, large=True, color=_color(view))]
    body += [text_block(line) for line in notice_lines(message)]
    actions: list[OpenUrl] = []
    if view is not None:
        body += _incident_body(view, evidence_rows)
        actions = _actions(view)
    content: AdaptiveCard = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    return content


def envelope(content: AdaptiveCard) -> Envelope:
    """The body a Workflows webhook expects: a message with the card as its attachment."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


def render(message: Message) -> bytes:
    """The request body, within Teams' size limit: evidence rows go first, then the evidence."""
    for rows in (EVIDENCE_ROWS, 3, 0):
        data = json.dumps(envelope(card(message, rows)), ensure_ascii=False).encode()
        if len(data) <= MAX_BYTES:
            return data
    raise DeliveryRejected(f"the Teams card is {len(data)} bytes, over Teams' {MAX_BYTES} byte limit")


def _color(view: IncidentView | None) -> str:
    if view is None:
        return "Default"
    if view.status == IncidentStatus.RESOLVED:
        return "Good"
    return "Attention" if view.severity == "critical" else "Warning"


def _incident_body(view: IncidentView, evidence_rows: int) -> list[Element]:
    facts: list[Fact] = [
        {"title": "Flow", "value": view.flow},
        {"title": "Severity", "value": view.severity},
        {"title": "Owner", "value": f"{view.owner.name} ({view.owner.channel})"},
    ]
    primary = view.primary
    if primary is not None:
        facts.insert(
            0, {"title": "Value", "value": f"{primary.value_text} ({primary.comparison} {primary.threshold_text})"}
        )
        facts.append({"title": "Firing for", "value": primary.duration_text})
    if view.acked_by:
        facts.append({"title": "Acknowledged by", "value": view.acked_by})
    blocks: list[Element] = []
    if view.business_impact:
        blocks.append(text_block(f"**Business impact:** {view.business_impact}"))
    blocks.append({"type": "FactSet", "facts": facts})
    for alert in view.alerts[1:]:
        line = f"Also: {alert.rule} at {alert.value_text} ({alert.comparison} {alert.threshold_text})"
        blocks.append(text_block(line, subtle=True))
    if view.evidence is not None and evidence_rows:
        blocks += _evidence(view.evidence, evidence_rows, firing_time=view.status == IncidentStatus.RESOLVED)
    return [{"type": "Container", "style": _STYLE.get(view.severity, "default"), "items": blocks}]


def _evidence(evidence: EvidenceTable, limit: int, *, firing_time: bool) -> list[Element]:
    if evidence.error:
        return [text_block(f"Evidence unavailable: {evidence.error}")]
    if not evidence.rows:
        return []
    title = "Evidence (at firing time)" if firing_time else "Evidence"
    header: TableRow = {
        "type": "TableRow",
        "style": "accent",
        "cells": [_cell(c, bold=True) for c in evidence.columns],
    }
    rows: list[TableRow] = [
        {"type": "TableRow", "cells": [_cell("" if v is None else str(v)) for v in row]}
        for row in evidence.rows[:limit]
    ]
    out: list[Element] = [
        text_block(title, bold=True),
        {
            "type": "Table",
            "columns": [{"width": 1} for _ in evidence.columns],
            "rows": [header, *rows],
            "firstRowAsHeader": True,
        },
    ]
    more = more_rows(evidence, limit)
    if more:
        out.append(text_block(more, subtle=True))
    return out


def _cell(text: str, *, bold: bool = False) -> TableCell:
    return {"type": "TableCell", "items": [text_block(text, bold=bold)]}


def _actions(view: IncidentView) -> list[OpenUrl]:
    actions: list[OpenUrl] = []
    if view.runbook is not None:
        actions.append({"type": "Action.OpenUrl", "title": "Runbook", "url": view.runbook.url})
    if view.dashboard_url:
        actions.append({"type": "Action.OpenUrl", "title": "Dashboard", "url": view.dashboard_url})
    if view.primary is not None and view.primary.incident_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": f"Incident #{view.incident}", "url": view.primary.incident_url}
        )
    return actions


class TeamsNotifier:
    """Posts a card per message to one Workflows webhook."""

    min_interval_per_channel = 1.0  # Workflows throttles bursts; one card a second keeps order readable

    def __init__(
        self, key: str, receiver: TeamsReceiver, environ: Mapping[str, str], *, client: httpx.Client | None = None
    ) -> None:
        self._key = key
        self._receiver = receiver
        self._environ = environ
        self._client = client or new_client()

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        try:
            url = resolve(self._receiver.url, self._environ, where=f"receiver {self._key}")
        except ConfigError as exc:
            raise DeliveryRejected(str(exc)) from None
        post_json(self._client, url, render(delivery.message), what=f"Teams ({self._key})")
        return thread or ThreadRef(self._key, delivery.thread_key)
