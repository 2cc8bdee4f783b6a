"""Slack interactivity: the buttons on alert messages, verified by Slack's request signature."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request, Response
from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session

from ..alerting.actions import ActionError, incident_number
from ..alerting.calendar import next_morning
from ..alerting.silences import SilenceError
from ..runtime import Runtime
from ..store.tables import Incident
from .deps import RuntimeDep
from .errors import answers

log = logging.getLogger(__name__)
router = APIRouter(tags=["slack"])

MAX_BODY = 64 * 1024
SILENCES = {"flowhealth_silence_1h": timedelta(hours=1), "flowhealth_silence_4h": timedelta(hours=4)}


@router.post(
    "/slack/interactions",
    summary="Slack interactivity request URL (signed by Slack)",
    # Slack only looks at the status. 503 also when no signing secret is configured.
    responses={200: {"description": "Applied (or nothing to do); the body is empty"}, **answers(400, 401)},
    response_class=Response,
)
async def interactions(request: Request, runtime: RuntimeDep) -> Response:
    secret = runtime.settings.slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise HTTPException(503, "Slack interactivity is not configured: set SLACK_SIGNING_SECRET")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "request body too large")
    # Verifies HMAC-SHA256 over "v0:{timestamp}:{body}" and rejects timestamps older than 5 minutes.
    verifier = SignatureVerifier(secret.get_secret_value())
    if not verifier.is_valid_request(body, dict(request.headers)):
        raise HTTPException(401, "invalid or stale Slack signature")
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        user = payload["user"]
        actions = payload.get("actions") or []
    except (KeyError, IndexError, ValueError, UnicodeDecodeError, TypeError):
        raise HTTPException(400, "expected a form field 'payload' with Slack's interaction JSON") from None
    for action in actions:
        if not isinstance(action, dict):
            raise HTTPException(400, "malformed action")
        _apply(
            runtime, str(action.get("action_id", "")), str(action.get("value", "")), f"<@{user.get('id', 'unknown')}>"
        )
    return Response(status_code=200)


def _apply(runtime: Runtime, action_id: str, value: str, actor: str) -> None:
    if not action_id.startswith("flowhealth_") or action_id.startswith("flowhealth_open_"):
        return  # link buttons also report clicks; nothing to do
    actions = runtime.actions
    try:
        if action_id == "flowhealth_ack":
            actions.ack(value, actor, timedelta(hours=runtime.settings.ack_ttl_hours))
        elif action_id == "flowhealth_resolve":
            actions.resolve(value, actor)
        elif action_id in SILENCES:
            until = runtime.clock.now() + SILENCES[action_id]
            actions.silence_incident(value, actor, until, f"silenced from Slack for {SILENCES[action_id]}")
        elif action_id == "flowhealth_silence_tomorrow":
            tz = _team_timezone(runtime, value)
            actions.silence_incident(
                value, actor, next_morning(runtime.clock.now(), tz), "silenced from Slack until tomorrow morning"
            )
        else:
            log.warning("unknown Slack action %s", action_id)
    except (ActionError, SilenceError) as exc:
        # Two people clicked at once, or the incident closed meanwhile: nothing to change.
        log.info("Slack action %s on %s not applied: %s", action_id, value, exc)


def _team_timezone(runtime: Runtime, incident_ref: str) -> str:
    with Session(runtime.engine) as session:
        number = incident_number(incident_ref)
        incident = session.get(Incident, number) if number is not None else None
    if incident is None:
        return "UTC"
    hours = runtime.model.teams[incident.team].business_hours
    return hours.timezone if hours else "UTC"
