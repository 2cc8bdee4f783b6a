"""PagerDuty's v3 webhooks: an ack or resolve in PagerDuty acks or resolves the incident here.

PagerDuty signs each request with HMAC-SHA256 of the raw body under the subscription's secret
(``X-PagerDuty-Signature: v1=HEX``, several when the secret is being rotated). The incident is
found by the ``incident_key`` flowhealth gave the alert (``flowhealth:TEAM:incident:N``). Events
about incidents that are not ours, or that are already in the state asked for, are answered 202
and change nothing: PagerDuty retries anything else, and a retry must not act twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from ..alerting.actions import ActionError
from ..alerting.enums import ActionSource
from .deps import ActionsDep, SettingsDep
from .errors import answers

log = logging.getLogger(__name__)

router = APIRouter(tags=["pagerduty"])

MAX_BODY = 256 * 1024
_INCIDENT_KEY = re.compile(r"^flowhealth:[a-z][a-z0-9_-]*:incident:(\d{1,18})$")


def signed(secret: str, body: bytes, header: str) -> bool:
    expected = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, given.strip()) for given in header.split(","))


@router.post(
    "/api/v1/pagerduty",
    summary="PagerDuty v3 webhook: acknowledged and resolved incidents (signed by PagerDuty)",
    status_code=202,
    responses={202: {"description": "Taken (or not ours, or nothing to change)"}, **answers(400, 401, 413)},
    response_class=Response,
)
async def pagerduty_webhook(request: Request, settings: SettingsDep, actions: ActionsDep) -> Response:
    secret = settings.pagerduty_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise HTTPException(503, "PagerDuty webhooks are not configured: set FLOWHEALTH_PAGERDUTY_WEBHOOK_SECRET")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "request body too large")
    if not signed(secret.get_secret_value(), body, request.headers.get("x-pagerduty-signature", "")):
        raise HTTPException(401, "missing or invalid X-PagerDuty-Signature")
    event_type, number, agent = _parse(body)
    if number is None or event_type not in {"incident.acknowledged", "incident.resolved"}:
        return Response(status_code=202)
    actor = f"{agent} (PagerDuty)"
    try:
        if event_type == "incident.acknowledged":
            await run_in_threadpool(lambda: actions.ack(f"#{number}", actor, source=ActionSource.PAGERDUTY))
        else:
            await run_in_threadpool(lambda: actions.resolve(f"#{number}", actor, source=ActionSource.PAGERDUTY))
    except ActionError as exc:
        log.info("PagerDuty %s for incident #%d changed nothing: %s", event_type, number, exc)
    return Response(status_code=202)


def _parse(body: bytes) -> tuple[str, int | None, str]:
    try:
        data: Any = json.loads(body)
        event = data["event"]
        event_type = str(event["event_type"])
        incident = event.get("data") or {}
        key = incident.get("incident_key") if isinstance(incident, dict) else None
        agent = event.get("agent") or {}
        who = str(agent.get("summary") or "someone") if isinstance(agent, dict) else "someone"
    except (ValueError, KeyError, TypeError, AttributeError):
        raise HTTPException(400, "expected a PagerDuty v3 webhook body with an 'event' object") from None
    match = _INCIDENT_KEY.match(key) if isinstance(key, str) else None
    return event_type, int(match.group(1)) if match else None, who[:100]
