"""A local PagerDuty: the Events API v2 as strictly as the real one, and signed v3 webhooks back.

It validates every event against the Events v2 schema (routing key, action, dedup_key, payload
fields and their limits, severities, links) and keeps the dedup_key lifecycle: a trigger opens
an alert or appends to the open one, acknowledge and resolve change an open alert and are
ignored otherwise, as PagerDuty does. It can be told to answer 429 or 500 (before or after
taking the event), to be slow (take the event, answer later), or to be down.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SEVERITIES = {"critical", "error", "warning", "info"}
ACTIONS = {"trigger", "acknowledge", "resolve"}
TOP_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}


@dataclass
class Alert:
    dedup_key: str
    status: str  # triggered, acknowledged, resolved
    incident_number: int
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakePagerDuty:
    alerts: dict[str, Alert] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # every event answered 202, in order
    ignored: list[dict[str, Any]] = field(default_factory=list)  # ack/resolve of no open alert
    rejected: list[tuple[dict[str, Any] | None, list[str]]] = field(default_factory=list)
    failures: deque[str] = field(default_factory=deque)  # "429", "500", "500-after-store", "drop"
    down: bool = False
    delay: float = 0.0  # seconds between taking an event and answering: a slow PagerDuty
    lock: threading.Lock = field(default_factory=threading.Lock)
    incidents_opened: int = 0

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.down:
            return 0, {}, b""
        if method != "POST" or path != "/v2/enqueue":
            return 404, {}, b'{"status":"not found"}'
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
            if failure == "429":
                return (
                    429,
                    {"Content-Type": "application/json"},
                    b'{"status":"throttle event","message":"Requests for this service are arriving too quickly."}',
                )
            if failure == "500":
                return 500, {}, b"internal error"
            if failure == "drop":
                return 0, {}, b""
            if not headers.get("content-type", "").startswith("application/json"):
                return 400, {}, self._invalid(None, ["Content-Type must be application/json"])
            try:
                event = json.loads(body)
            except json.JSONDecodeError:
                return 400, {}, self._invalid(None, ["Invalid JSON"])
            errors = validate(event)
            if errors:
                return 400, {"Content-Type": "application/json"}, self._invalid(event, errors)
            dedup = self._apply(event)
        if self.delay:
            time.sleep(self.delay)  # taken, not yet answered: a client that dies now never hears back
        if failure == "500-after-store":
            return 500, {}, b"internal error"
        answer = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        return 202, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _invalid(self, event: dict[str, Any] | None, errors: list[str]) -> bytes:
        self.rejected.append((event, errors))
        return json.dumps({"status": "invalid event", "message": "Event object is invalid", "errors": errors}).encode()

    def _apply(self, event: dict[str, Any]) -> str:
        action = event["event_action"]
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        alert = self.alerts.get(dedup)
        open_ = alert is not None and alert.status != "resolved"
        if action == "trigger":
            if not open_:
                self.incidents_opened += 1
                alert = Alert(dedup, "triggered", self.incidents_opened)
                self.alerts[dedup] = alert
            assert alert is not None
            alert.events.append(event)
        elif not open_:
            self.ignored.append(event)
            return dedup
        else:
            assert alert is not None
            alert.status = "acknowledged" if action == "acknowledge" else "resolved"
            alert.events.append(event)
        self.accepted.append(event)
        return dedup

    def actions(self, dedup_key: str) -> list[str]:
        alert = self.alerts.get(dedup_key)
        return [] if alert is None else [e["event_action"] for e in alert.events]

    def webhook(self, secret: str, event_type: str, dedup_key: str, agent: str) -> tuple[bytes, dict[str, str]]:
        """A signed v3 webhook about the alert's incident, as PagerDuty sends when someone acts in it."""
        alert = self.alerts[dedup_key]
        body = {
            "event": {
                "id": uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": datetime.now(UTC).isoformat(),
                "agent": {"id": "PUSER01", "summary": agent, "type": "user_reference"},
                "client": None,
                "data": {
                    "id": f"Q{alert.incident_number:06d}",
                    "type": "incident",
                    "number": alert.incident_number,
                    "status": event_type.removeprefix("incident."),
                    "incident_key": dedup_key,
                    "title": alert.events[0]["payload"]["summary"],
                    "html_url": f"https://example.pagerduty.com/incidents/Q{alert.incident_number:06d}",
                },
            }
        }
        raw = json.dumps(body).encode()
        signature = "v1=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-PagerDuty-Signature": signature,
            "X-Webhook-Id": uuid.uuid4().hex,
            "User-Agent": "PagerDuty-Webhook/V3.0",
        }
        return raw, headers


def validate(event: Any) -> list[str]:
    """The errors PagerDuty would list for this event (empty when valid)."""
    if not isinstance(event, dict):
        return ["Event must be a JSON object"]
    errors = [f"'{k}' is not a valid field" for k in event if k not in TOP_KEYS]
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character integration key")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 0 < len(dedup) <= 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in {"acknowledge", "resolve"} and dedup is None:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        errors += _payload_errors(event.get("payload"))
    for link in event.get("links", []) or []:
        if not isinstance(link, dict) or not isinstance(link.get("href"), str) or not link["href"].startswith("http"):
            errors.append("'links' entries need an absolute 'href'")
    return errors


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for trigger events"]
    errors = [f"'payload.{k}' is not a valid field" for k in payload if k not in PAYLOAD_KEYS]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary or len(summary) > 1024:
        errors.append("'payload.summary' is required and at most 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        errors.append("'payload.source' is required")
    if payload.get("severity") not in SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(str(payload["timestamp"]))
        except ValueError:
            errors.append("'payload.timestamp' must be ISO 8601")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict | str):
        errors.append("'payload.custom_details' must be an object")
    return errors
