"""The `/flowhealth` slash command: `status`, `incidents`, `ack N`, `silence N 2h reason`.

Signed like the buttons. Slack wants an answer within 3 seconds: what can be checked without the
database (the command's words, a duration) is answered at once; the rest runs in a worker thread
after the answer and reaches the person through `response_url`, as an ephemeral message.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from ..alerting.actions import incident_number
from ..model.durations import parse_duration
from .deps import SettingsDep
from .errors import answers
from .slack import ClickHandlerDep, SeenDep, verified_body
from .slack_clicks import Click, ClickHandler
from .slack_modal import SilenceRequest

router = APIRouter(tags=["slack"])

USAGE = (
    "Usage: `/flowhealth status` · `/flowhealth incidents` · `/flowhealth ack N` · `/flowhealth silence N 2h reason`"
)
MAX_LISTED = 20


def _ephemeral(text: str) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "text": text})


@router.post(
    "/slack/commands",
    summary="Slack slash command request URL for /flowhealth (signed by Slack)",
    responses={
        200: {"description": "An ephemeral reply, or empty when the reply follows via response_url"},
        **answers(400, 401),
    },
)
async def command(
    request: Request, settings: SettingsDep, handler: ClickHandlerDep, seen: SeenDep, background: BackgroundTasks
) -> Response:
    body = await verified_body(request, settings)
    try:
        form = {key: values[0] for key, values in parse_qs(body.decode(), strict_parsing=False).items()}
    except UnicodeDecodeError:
        raise HTTPException(400, "expected Slack's form-encoded slash command") from None
    user = form.get("user_id")
    if not user:
        raise HTTPException(400, "expected Slack's form-encoded slash command with user_id")
    url = form.get("response_url")
    url = url if url and url.startswith(("https://", "http://")) else None
    words = form.get("text", "").split()
    verb = words[0].lower() if words else "help"
    actor = f"<@{user}>"
    if verb in ("status", "incidents") and len(words) == 1:
        if url is None:
            return _ephemeral("Slack sent no response_url to answer on.")
        background.add_task(_report, handler, verb, url)
        return Response(status_code=200)
    if verb not in ("ack", "silence") or len(words) < 2 or incident_number(words[1]) is None:
        return _ephemeral(USAGE)
    ref = str(incident_number(words[1]))  # "#7" and "7" alike
    click = Click("flowhealth_ack", ref, actor, url)
    if verb == "silence":
        if len(words) < 4:
            return _ephemeral("Say for how long and why: `/flowhealth silence N 2h reason`.")
        try:
            duration = parse_duration(words[2])
        except ValueError as exc:
            return _ephemeral(f"{exc}.")
        # No matchers: what the incident is about (read in the worker, not on the event loop).
        ask = SilenceRequest(ref, duration, {}, " ".join(words[3:]), url)
        click = Click("flowhealth_silence_command", ref, actor, url, silence=ask)
    # Slack retries a command it got no answer to with the same trigger_id: apply it once.
    if seen.first_time(f"command:{form.get('trigger_id', '')}" if form.get("trigger_id") else ""):
        background.add_task(handler.handle, click)
    return Response(status_code=200)


def _report(handler: ClickHandler, verb: str, url: str) -> None:
    summaries = handler.actions.summaries()
    if verb == "status":
        acked = sum(1 for s in summaries if s.acked_by)
        silences = len(handler.actions.list_silences())
        text = f"{len(summaries)} open incident(s), {acked} acknowledged; {silences} active silence(s)."
    elif not summaries:
        text = "No open incidents."
    else:
        lines = [
            f"#{s.incident} {s.severity} {s.team} {s.group}" + (f" · acked by {s.acked_by}" if s.acked_by else "")
            for s in summaries[:MAX_LISTED]
        ]
        if len(summaries) > MAX_LISTED:
            lines.append(f"… {len(summaries) - MAX_LISTED} more")
        text = "\n".join(lines)
    handler.tell(url, text)
