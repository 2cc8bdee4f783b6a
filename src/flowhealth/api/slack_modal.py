"""The **Silence…** modal: the view `views.open` shows, and what its `view_submission` asks for.

The modal is prefilled from the incident (its team and group as matchers, one `key=value` a
line), with a duration and a reason, as Grafana OnCall's silence dialog was. The incident number
and the clicker's `response_url` travel in `private_metadata`, so the submission can be applied
and the person told the outcome like any other click.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..model.durations import parse_duration

CALLBACK_ID = "flowhealth_silence_modal"
OPEN_ACTION = "flowhealth_silence_custom"
DEFAULT_DURATION = "2h"
# block_id/action_id pairs of the modal's inputs
DURATION = ("duration", "value")
MATCHERS = ("matchers", "value")
REASON = ("reason", "value")


@dataclass(frozen=True)
class SilenceRequest:
    """A submitted modal, checked: what to silence, for how long, and why."""

    incident: str
    duration: timedelta
    matchers: dict[str, str]
    reason: str
    response_url: str | None


class ModalError(ValueError):
    """The person typed something we cannot use; `errors` maps block_id to the message Slack shows."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _input(block_id: str, label: str, initial: str, *, multiline: bool = False, hint: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def silence_view(incident: int, matchers: dict[str, str], response_url: str | None) -> dict[str, Any]:
    """The modal for silencing an incident, prefilled with its matchers."""
    lines = "\n".join(f"{key}={value}" for key, value in sorted(matchers.items()))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"incident": incident, "response_url": response_url}),
        "title": {"type": "plain_text", "text": f"Silence #{incident}"[:24]},
        "submit": {"type": "plain_text", "text": "Silence"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input(DURATION[0], "Duration", DEFAULT_DURATION, hint="e.g. 30m, 2h, 1d"),
            _input(
                MATCHERS[0],
                "Matchers",
                lines,
                multiline=True,
                hint="one key=value a line: team, flow, system, rule, severity",
            ),
            _input(REASON[0], "Reason", "", hint="what you are doing about it; shown with the silence"),
        ],
    }


def _value(values: dict[str, Any], pair: tuple[str, str]) -> str:
    entry = values.get(pair[0], {}).get(pair[1], {})
    value = entry.get("value") if isinstance(entry, dict) else None
    return value.strip() if isinstance(value, str) else ""


def parse_submission(view: dict[str, Any]) -> SilenceRequest:
    """The request a submitted modal makes; ModalError names each field that is wrong."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values = view.get("state", {}).get("values", {})
    errors: dict[str, str] = {}
    duration = timedelta(0)
    try:
        duration = parse_duration(_value(values, DURATION))
        if duration <= timedelta(0):
            errors[DURATION[0]] = "a silence needs a duration longer than zero, e.g. 2h"
    except ValueError as exc:
        errors[DURATION[0]] = str(exc)
    matchers: dict[str, str] = {}
    for line in _value(values, MATCHERS).splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            errors[MATCHERS[0]] = f"'{line.strip()}' is not key=value"
            break
        matchers[key.strip()] = value.strip()
    if not matchers and MATCHERS[0] not in errors:
        errors[MATCHERS[0]] = "give at least one matcher, e.g. team=shop-team"
    reason = _value(values, REASON)
    if not reason:
        errors[REASON[0]] = "say why: a silence needs a reason"
    if errors:
        raise ModalError(errors)
    url = meta.get("response_url")
    return SilenceRequest(
        incident=str(meta.get("incident", "")),
        duration=duration,
        matchers=matchers,
        reason=reason,
        response_url=url if isinstance(url, str) else None,
    )
