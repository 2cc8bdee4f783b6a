"""Slack interactivity: the buttons on alert messages, verified by Slack's request signature.

The request is answered at once (Slack gives up after 3 seconds); the click is applied in a
worker thread after the answer is sent (see slack_clicks.py), so a busy database delays the
action, not the answer, and never blocks the event loop.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response
from slack_sdk.signature import SignatureVerifier

from .deps import ActionsDep, ClockDep, EngineDep, ModelDep, SettingsDep
from .errors import answers
from .slack_clicks import Click, ClickHandler

router = APIRouter(tags=["slack"])

MAX_BODY = 64 * 1024


def get_click_handler(
    actions: ActionsDep, model: ModelDep, engine: EngineDep, clock: ClockDep, settings: SettingsDep
) -> ClickHandler:
    return ClickHandler(actions, model, engine, clock, timedelta(hours=settings.ack_ttl_hours))


ClickHandlerDep = Annotated[ClickHandler, Depends(get_click_handler)]


@router.post(
    "/slack/interactions",
    summary="Slack interactivity request URL (signed by Slack)",
    # Slack only looks at the status. 503 also when no signing secret is configured.
    responses={200: {"description": "Accepted; the outcome goes to the clicker via response_url"}, **answers(400, 401)},
    response_class=Response,
)
async def interactions(
    request: Request, settings: SettingsDep, handler: ClickHandlerDep, background: BackgroundTasks
) -> Response:
    secret = settings.slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise HTTPException(503, "Slack interactivity is not configured: set SLACK_SIGNING_SECRET")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "request body too large")
    # Verifies HMAC-SHA256 over "v0:{timestamp}:{body}" and rejects timestamps older than 5 minutes.
    verifier = SignatureVerifier(secret.get_secret_value())
    if not verifier.is_valid_request(body, dict(request.headers)):
        raise HTTPException(401, "invalid or stale Slack signature")
    for click in _clicks(body):
        # A sync background task runs in the thread pool once the response is sent.
        background.add_task(handler.handle, click)
    return Response(status_code=200)


def _clicks(body: bytes) -> list[Click]:
    try:
        payload: Any = json.loads(parse_qs(body.decode())["payload"][0])
        user = payload["user"]
        actions = payload.get("actions") or []
        response_url = payload.get("response_url")
        actor = f"<@{user.get('id', 'unknown')}>"
    except (KeyError, IndexError, ValueError, UnicodeDecodeError, TypeError, AttributeError):
        raise HTTPException(400, "expected a form field 'payload' with Slack's interaction JSON") from None
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        raise HTTPException(400, "malformed action")
    url = response_url if isinstance(response_url, str) and response_url.startswith(("https://", "http://")) else None
    return [Click(str(a.get("action_id", "")), str(a.get("value", "")), actor, url) for a in actions]
