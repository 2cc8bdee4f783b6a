"""PagerDuty Events API v2: an incident triggers, acknowledges and resolves one PagerDuty alert.

The ``dedup_key`` is the incident (``flowhealth:TEAM:incident:N``), so a retried trigger after an
ambiguous failure appends to the same alert instead of paging twice, and an ack or resolve in
flowhealth reaches the alert it opened. Updates that only change the picture send nothing:
PagerDuty pages on triggers, and its alert log is no place for every value tick.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

from ..alerting.enums import IncidentStatus, NoticeKind
from ..alerting.notices import (
    AckExpired,
    Acknowledged,
    Escalated,
    ExternalAlert,
    IncidentView,
    Joined,
    Message,
    Opened,
    Reopened,
)
from ..errors import ConfigError, DeliveryRejected
from ..model.envref import resolve
from ..model.receivers import PagerDutyReceiver
from ..store.outbox import ThreadRef
from .base import Delivery
from .http_post import new_client, post_json
from .plain import notice_lines

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
SUMMARY_LIMIT = 1024
EVIDENCE_ROWS = 10

Action = Literal["trigger", "acknowledge", "resolve"]


class AlertDetail(TypedDict):
    rule: str
    flow: str
    summary: str
    value: str
    threshold: str
    firing_for: str
    status: str


class EvidenceDetail(TypedDict):
    columns: list[str]
    rows: list[list[str | int | float | None]]
    more_rows: int


class CustomDetails(TypedDict):
    """`payload.custom_details`: free-form in Events v2; these are the keys flowhealth sends."""

    business_impact: str
    owner: str
    owner_channel: str
    alerts: list[AlertDetail]
    value_vs_threshold: NotRequired[str]
    evidence: NotRequired[EvidenceDetail]
    what_happened: NotRequired[list[str]]


# `class` is a Python keyword, hence the functional form.
Payload = TypedDict(
    "Payload",
    {
        "summary": str,
        "source": str,
        "severity": str,
        "timestamp": str,
        "component": str,
        "group": str,
        "class": str,
        "custom_details": CustomDetails,
    },
)

if TYPE_CHECKING:
    import httpx


class Link(TypedDict):
    href: str
    text: str


class Event(TypedDict):
    """An Events API v2 request body."""

    routing_key: str
    event_action: Action
    dedup_key: str
    payload: NotRequired[Payload]
    links: NotRequired[list[Link]]
    client: NotRequired[str]
    client_url: NotRequired[str]


_PAGING = (Opened, Joined, Reopened, AckExpired, Escalated)


def dedup_key(view: IncidentView) -> str:
    return f"flowhealth:{view.team}:incident:{view.incident}"


def action_for(message: Message, *, first: bool) -> Action | None:
    """What the message means to PagerDuty; None when it only changes the picture."""
    view = message.view
    if view is None:
        return None
    if view.status == IncidentStatus.RESOLVED:
        return "resolve"
    if first or message.kind == NoticeKind.OPEN or any(isinstance(n, _PAGING) for n in message.notices):
        return "trigger"
    if view.acked_by and any(isinstance(n, Acknowledged) for n in message.notices):
        return "acknowledge"
    return None


def external_event(alert: ExternalAlert, routing_key: str, lines: list[str]) -> Event:
    """An Alertmanager alert naming no rule: its own PagerDuty alert, keyed on its fingerprint."""
    body: Event = {
        "routing_key": routing_key,
        "event_action": "trigger" if alert.status == "firing" else "resolve",
        "dedup_key": f"flowhealth:{alert.team}:alertmanager:{alert.fingerprint}",
    }
    if alert.status != "firing":
        return body
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or alert.alertname
    body["payload"] = {
        "summary": f"{alert.alertname}: {summary}"[:SUMMARY_LIMIT],
        "source": alert.labels.get("instance") or alert.labels.get("job") or "alertmanager",
        "severity": alert.severity,
        "timestamp": alert.starts_at.isoformat(),
        "component": alert.labels.get("job", alert.alertname),
        "group": alert.team,
        "class": alert.alertname,
        "custom_details": {
            "business_impact": alert.annotations.get("business_impact", ""),
            "owner": alert.team,
            "owner_channel": "",
            "alerts": [],
            "what_happened": lines,
        },
    }
    body["client"] = "Alertmanager, through flowhealth"
    if alert.generator_url:
        body["client_url"] = alert.generator_url
    return body


def external_events(message: Message, routing_key: str) -> list[Event]:
    """One event per Alertmanager alert a message tells (they are separate alerts in PagerDuty too)."""
    return [
        external_event(n, routing_key, notice_lines(Message(kind=message.kind, notices=[n])))
        for n in message.notices
        if isinstance(n, ExternalAlert)
    ]


def event(message: Message, routing_key: str, *, first: bool) -> Event | None:
    """The Events v2 body for an incident's message, or None when there is nothing to send."""
    action = action_for(message, first=first)
    view = message.view
    if action is None or view is None:
        return None
    body: Event = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(view)}
    if action != "trigger":
        return body
    primary = view.primary
    body["payload"] = {
        "summary": f"#{view.incident} {view.title}"[:SUMMARY_LIMIT],
        "source": view.flow,
        "severity": view.severity,  # critical, warning and info are Events v2 severities as they are
        "timestamp": view.opened_at.isoformat(),
        "component": primary.signal if primary else view.flow,
        "group": view.team,
        "class": primary.rule if primary else "incident",
        "custom_details": custom_details(view, message),
    }
    links: list[Link] = []
    if view.runbook is not None:
        links.append({"href": view.runbook.url, "text": f"Runbook: {view.runbook.title}"})
    if view.dashboard_url:
        links.append({"href": view.dashboard_url, "text": "Dashboard"})
    if primary is not None and primary.incident_url:
        links.append({"href": primary.incident_url, "text": f"Incident #{view.incident} in flowhealth"})
        body["client_url"] = primary.incident_url
    body["links"] = links
    body["client"] = "flowhealth"
    return body


def custom_details(view: IncidentView, message: Message) -> CustomDetails:
    """What the responder needs in PagerDuty: impact, value against threshold, owner and evidence."""
    details: CustomDetails = {
        "business_impact": view.business_impact or "",
        "owner": view.owner.name,
        "owner_channel": view.owner.channel,
        "alerts": [
            {
                "rule": a.rule,
                "flow": a.flow,
                "summary": a.summary,
                "value": a.value_text,
                "threshold": f"{a.comparison} {a.threshold_text}",
                "firing_for": a.duration_text,
                "status": a.status,
            }
            for a in view.alerts
        ],
    }
    if view.primary is not None:
        details["value_vs_threshold"] = (
            f"{view.primary.value_text} {view.primary.comparison} {view.primary.threshold_text}"
        )
    if view.evidence is not None and view.evidence.rows:
        rows = view.evidence.rows
        details["evidence"] = {
            "columns": view.evidence.columns,
            "rows": rows[:EVIDENCE_ROWS],
            "more_rows": max(0, len(rows) - EVIDENCE_ROWS),
        }
    if lines := notice_lines(message):
        details["what_happened"] = lines
    return details


class PagerDutyNotifier:
    """Sends a team's incidents to one PagerDuty service."""

    min_interval_per_channel = 0.0

    def __init__(
        self,
        key: str,
        receiver: PagerDutyReceiver,
        environ: Mapping[str, str],
        *,
        events_url: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self._key = key
        self._receiver = receiver
        self._environ = environ
        self._url = (receiver.url or events_url or DEFAULT_EVENTS_URL).rstrip("/") + "/v2/enqueue"
        self._client = client or new_client()

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        try:
            routing_key = resolve(self._receiver.routing_key, self._environ, where=f"receiver {self._key}")
        except ConfigError as exc:
            raise DeliveryRejected(str(exc)) from None
        view = delivery.message.view
        ref = ThreadRef(self._key, dedup_key(view) if view is not None else delivery.thread_key)
        if view is None:
            bodies = external_events(delivery.message, routing_key)
        else:
            body = event(delivery.message, routing_key, first=thread is None)
            bodies = [body] if body is not None else []
        # After a failure part-way through, the retry sends all again: each dedup_key makes a repeat harmless.
        for body in bodies:
            post_json(self._client, self._url, json.dumps(body).encode(), what=f"PagerDuty ({self._key})")
        return thread or ref
