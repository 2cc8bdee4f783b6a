"""A generic webhook: a documented, versioned JSON body, signed like Slack signs its requests.

The body (`WebhookBody`, published as ``docs/webhook.schema.json``) carries the incident's whole
typed picture and what happened, plus an Alertmanager-style ``alerts`` list, ``status``,
``groupKey`` and label sets, so a receiver written for Alertmanager's webhook reads it too.

Signature: ``X-Flowhealth-Signature: v1=HEX`` where HEX is HMAC-SHA256 of
``v1:{X-Flowhealth-Timestamp}:{raw body}`` with the receiver's secret. A receiver recomputes it,
compares in constant time and refuses timestamps older than five minutes (replays).
``X-Flowhealth-Idempotency-Key`` is the same on every retry of one message.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..alerting.enums import IncidentStatus
from ..alerting.notices import ExternalAlert, IncidentView, Message, Notice
from ..errors import ConfigError, DeliveryRejected
from ..model.envref import resolve
from ..model.receivers import WebhookReceiver
from ..store.outbox import ThreadRef
from .base import Delivery
from .http_post import new_client, post_json
from .plain import notice_lines

if TYPE_CHECKING:
    import httpx

BODY_VERSION = "1"
MAX_SKEW_SECONDS = 300


class WebhookAlert(BaseModel):
    """One alert, shaped like an alert in Alertmanager's webhook body."""

    model_config = ConfigDict(frozen=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str


class WebhookBody(BaseModel):
    """What flowhealth POSTs to a webhook receiver (version 1)."""

    model_config = ConfigDict(frozen=True)

    version: Literal["1"] = "1"
    id: str = Field(description="Idempotency key: the same on every retry of this message.")
    receiver: str = Field(description="team/receiver as declared in the model.")
    status: Literal["firing", "resolved"]
    groupKey: str = Field(description="The incident: incident:N.")
    kind: Literal["open", "update", "post"]
    title: str
    lines: list[str] = Field(description="What happened, one plain sentence per notice.")
    notices: list[Notice] = Field(description="What happened, as typed notices.")
    incident: IncidentView | None = Field(description="The incident's whole picture at this moment.")
    alerts: list[WebhookAlert] = Field(description="Alertmanager-style alerts.")
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str


def body(delivery: Delivery) -> WebhookBody:
    message: Message = delivery.message
    view = message.view
    external = [n for n in message.notices if isinstance(n, ExternalAlert)]
    alerts = _external_alerts(external) if view is None else _alerts(view)
    common = _common([a.labels for a in alerts])
    if view is None:
        resolved = bool(external) and all(n.status == "resolved" for n in external)
    else:
        resolved = view.status == IncidentStatus.RESOLVED
    return WebhookBody(
        id=delivery.dedup_key,
        receiver=delivery.receiver,
        status="resolved" if resolved else "firing",
        groupKey=f"incident:{view.incident}" if view is not None else delivery.thread_key,
        kind=message.kind.value,
        title=view.title if view is not None else (notice_lines(message) or [""])[0],
        lines=notice_lines(message),
        notices=list(message.notices),
        incident=view,
        alerts=alerts,
        groupLabels={"team": view.team, "flow": view.flow} if view is not None else {},
        commonLabels=common,
        commonAnnotations=_common([a.annotations for a in alerts]),
        externalURL=(view.primary.incident_url.split("/incidents/")[0] if view and view.primary else ""),
    )


def _alerts(view: IncidentView) -> list[WebhookAlert]:
    out = []
    resolved = view.status == IncidentStatus.RESOLVED
    for a in view.alerts:
        labels = {
            "alertname": a.rule,
            "rule": a.rule,
            "flow": a.flow,
            "signal": a.signal,
            "severity": a.severity,
            "team": a.owner.team,
            **a.labels,
        }
        annotations = {
            "summary": a.summary,
            "business_impact": a.business_impact,
            "value": a.value_text,
            "threshold": f"{a.comparison} {a.threshold_text}",
            "runbook_url": a.runbook.url,
            "dashboard_url": a.dashboard_url,
        }
        done = resolved or a.kind == "resolved"
        out.append(
            WebhookAlert(
                status="resolved" if done else "firing",
                labels=labels,
                annotations=annotations,
                startsAt=a.since,
                endsAt=a.at if done else None,
                generatorURL=a.incident_url,
                fingerprint=hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16],
            )
        )
    return out


def _external_alerts(notices: list[ExternalAlert]) -> list[WebhookAlert]:
    """Alertmanager's alerts that name no rule, passed on as Alertmanager sent them."""
    return [
        WebhookAlert(
            status=n.status,
            labels={**n.labels, "team": n.team, "severity": n.severity},
            annotations=n.annotations,
            startsAt=n.starts_at,
            endsAt=n.at if n.status == "resolved" else None,
            generatorURL=n.generator_url,
            fingerprint=n.fingerprint,
        )
        for n in notices
    ]


def _common(sets: list[dict[str, str]]) -> dict[str, str]:
    if not sets:
        return {}
    first = sets[0]
    return {k: v for k, v in first.items() if all(s.get(k) == v for s in sets[1:])}


def signature(secret: str, timestamp: str, raw: bytes) -> str:
    """`v1=HEX`: HMAC-SHA256 of `v1:{timestamp}:{body}`."""
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, raw: bytes, given: str, *, now: float | None = None) -> bool:
    """True when `given` signs this body and the timestamp is recent: for receivers written in Python."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= MAX_SKEW_SECONDS and hmac.compare_digest(signature(secret, timestamp, raw), given)


def json_schema() -> dict[str, object]:
    """The published JSON Schema of the body (docs/webhook.schema.json)."""
    schema = WebhookBody.model_json_schema()
    schema["$id"] = "https://flowhealth.dev/schemas/webhook-v1.json"
    schema["title"] = "flowhealth webhook body, version 1"
    return schema


class WebhookNotifier:
    """POSTs each message, signed, to one URL."""

    min_interval_per_channel = 0.0

    def __init__(
        self,
        key: str,
        receiver: WebhookReceiver,
        environ: Mapping[str, str],
        *,
        client: httpx.Client | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._receiver = receiver
        self._environ = environ
        self._client = client or new_client()
        self._wall_clock = wall_clock

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        where = f"receiver {self._key}"
        try:
            url = resolve(self._receiver.url, self._environ, where=where)
            secret = resolve(self._receiver.secret, self._environ, where=where)
        except ConfigError as exc:
            raise DeliveryRejected(str(exc)) from None
        raw = body(delivery).model_dump_json().encode()
        timestamp = str(int(self._wall_clock()))
        headers = {
            "X-Flowhealth-Timestamp": timestamp,
            "X-Flowhealth-Signature": signature(secret, timestamp, raw),
            "X-Flowhealth-Idempotency-Key": delivery.dedup_key,
            "User-Agent": "flowhealth-webhook/1",
        }
        post_json(self._client, url, raw, what=f"webhook ({self._key})", headers=headers)
        return thread or ThreadRef(self._key, delivery.thread_key)


if __name__ == "__main__":  # python -m flowhealth.notify.webhook > docs/webhook.schema.json
    import json

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
