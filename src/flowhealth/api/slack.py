"""Slack interactivity: the buttons on alert messages, verified by Slack's request signature.

The request is answered at once (Slack gives up after 3 seconds); the click is applied in a
worker thread after the answer is sent (see slack_clicks.py), so a busy database delays the
action, not the answer, and never blocks the event loop.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from ..settings import Settings
from .deps import ActionsDep, ClockDep, EngineDep, ModelDep, SettingsDep
from .errors import answers
from .slack_clicks import Click, ClickHandler
from .slack_modal import CALLBACK_ID, OPEN_ACTION, ModalError, parse_submission, silence_view
from .slack_seen import SeenRequests

log = logging.getLogger(__name__)

router = APIRouter(tags=["slack"])

MAX_BODY = 64 * 1024


def get_click_handler(
    actions: ActionsDep, model: ModelDep, engine: EngineDep, clock: ClockDep, settings: SettingsDep
) -> ClickHandler:
    return ClickHandler(actions, model, engine, clock, timedelta(hours=settings.ack_ttl_hours))


ClickHandlerDep = Annotated[ClickHandler, Depends(get_click_handler)]


def get_seen(request: Request) -> SeenRequests:
    """This process's memory of Slack requests already applied (see slack_seen.py)."""
    seen: SeenRequests | None = getattr(request.app.state, "slack_seen", None)
    if seen is None:
        seen = request.app.state.slack_seen = SeenRequests()
    return seen


SeenDep = Annotated[SeenRequests, Depends(get_seen)]


async def verified_body(request: Request, settings: Settings) -> bytes:
    """The request body once Slack's signature over it checks out; 503/413/401 otherwise."""
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
    return body


@router.post(
    "/slack/interactions",
    summary="Slack interactivity request URL (signed by Slack)",
    # Slack only looks at the status. 503 also when no signing secret is configured.
    responses={200: {"description": "Accepted; the outcome goes to the clicker via response_url"}, **answers(400, 401)},
    response_class=Response,
)
async def interactions(
    request: Request, settings: SettingsDep, handler: ClickHandlerDep, seen: SeenDep, background: BackgroundTasks
) -> Response:
    payload = _payload(await verified_body(request, settings))
    trigger_id = str(payload.get("trigger_id") or "")
    if payload.get("type") == "view_submission":
        return _submission(payload, handler, seen, background)
    for click in _clicks(payload):
        # Slack sends the same action_ts again when it retries; a replayed request too.
        key = click.key or trigger_id
        if not seen.first_time(f"{click.action_id}:{key}" if key else ""):
            continue
        if click.action_id == OPEN_ACTION:
            background.add_task(_open_silence_modal, handler, settings, trigger_id, click)
        else:
            # A sync background task runs in the thread pool once the response is sent.
            background.add_task(handler.handle, click.click)
    return Response(status_code=200)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload: Any = json.loads(parse_qs(body.decode())["payload"][0])
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        raise HTTPException(400, "expected a form field 'payload' with Slack's interaction JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), dict):
        raise HTTPException(400, "expected a form field 'payload' with Slack's interaction JSON")
    return payload


def _actor(payload: dict[str, Any]) -> str:
    return f"<@{payload['user'].get('id', 'unknown')}>"


def _url(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


class _Pressed:
    """A button press and the key Slack gives it (`action_ts`)."""

    def __init__(self, click: Click, key: str) -> None:
        self.click, self.key = click, key

    @property
    def action_id(self) -> str:
        return self.click.action_id


def _clicks(payload: dict[str, Any]) -> list[_Pressed]:
    actions = payload.get("actions") or []
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        raise HTTPException(400, "malformed action")
    url, actor = _url(payload.get("response_url")), _actor(payload)
    return [
        _Pressed(Click(str(a.get("action_id", "")), str(a.get("value", "")), actor, url), str(a.get("action_ts") or ""))
        for a in actions
    ]


def _submission(
    payload: dict[str, Any], handler: ClickHandler, seen: SeenRequests, background: BackgroundTasks
) -> Response:
    view = payload.get("view")
    if not isinstance(view, dict) or view.get("callback_id") != CALLBACK_ID:
        return Response(status_code=200)  # not our modal: closing it is all we can do
    try:
        ask = parse_submission(view)
    except ModalError as exc:
        # Slack shows each message under its field and keeps the modal open.
        return JSONResponse({"response_action": "errors", "errors": exc.errors})
    except (ValueError, TypeError, AttributeError):
        raise HTTPException(400, "malformed view_submission") from None
    key = str(payload.get("trigger_id") or view.get("id") or "")
    if seen.first_time(f"{CALLBACK_ID}:{key}" if key else ""):
        click = Click(CALLBACK_ID, ask.incident, _actor(payload), ask.response_url, silence=ask)
        background.add_task(handler.handle, click)
    return Response(status_code=200)  # an empty 200 closes the modal


def _open_silence_modal(handler: ClickHandler, settings: Settings, trigger_id: str, pressed: _Pressed) -> None:
    """views.open with the incident's matchers; the clicker is told when it cannot open."""
    click = pressed.click
    token = settings.slack_bot_token
    matchers = handler.incident_matchers(click.value)
    if matchers is None:
        handler.tell(click.response_url, f"There is no incident {click.value}: nothing to silence.")
        return
    if token is None or not trigger_id:
        handler.tell(click.response_url, "The silence dialog needs SLACK_BOT_TOKEN; use the Silence 1h/4h buttons.")
        return
    number = int(click.value.strip().lstrip("#"))
    client = WebClient(token=token.get_secret_value(), base_url=settings.slack_base_url, timeout=10)
    try:
        client.views_open(trigger_id=trigger_id, view=silence_view(number, matchers, click.response_url))
    except SlackApiError as exc:
        log.warning("Slack views.open failed: %s", exc.response.get("error"))
        handler.tell(click.response_url, f"Could not open the silence dialog ({exc.response.get('error')}).")
    except OSError as exc:  # Slack unreachable: the trigger expires in 3 s, so no retry
        log.warning("Slack views.open failed: %s", type(exc).__name__)
        handler.tell(click.response_url, "Could not reach Slack to open the silence dialog; please try again.")
