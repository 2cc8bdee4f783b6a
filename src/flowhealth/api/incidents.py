"""Incidents and silences: list them, and acknowledge, resolve or silence behind the API token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from ..alerting.actions import ActionError, NotFound
from ..alerting.enums import ActionSource
from ..alerting.silences import SilenceError
from ..alerting.view_models import IncidentSummary
from ..evidence import EvidenceTable
from ..model.durations import MAX_SECONDS, format_duration, parse_duration
from ..store.tables import Silence
from . import schemas
from .deps import ActionsDep, ClockDep, SettingsDep, WriteAccess
from .errors import REFUSED, answers

router = APIRouter(tags=["incidents"])
API_EVIDENCE_ROWS = 20


# The API's durations say their bound in the schema, so a schema-valid duration is always accepted:
# up to three parts, each at most ~32 years (999,999,999 s, 9,999 d, ...), so under the 100 years
# parse_duration allows; numbers up to MAX_SECONDS.
_UNIT_DIGITS = {"ms": 11, "s": 9, "m": 7, "h": 5, "d": 4, "w": 3}
_ANY_PART = "|".join(rf"\d{{1,{n}}}(\.\d{{1,3}})?{unit}" for unit, n in _UNIT_DIGITS.items())
# The first part starts with 1-9: a schema-valid duration is never zero (a silence must end after it starts).
_FIRST_PART = "|".join(rf"[1-9]\d{{0,{n - 1}}}(\.\d{{1,3}})?{unit}" for unit, n in _UNIT_DIGITS.items())
ApiDuration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^({_FIRST_PART})({_ANY_PART}){{0,2}}$"},
                {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SECONDS},
            ],
            "description": "A duration: 30s, 5m, 1h30m, 2d, or seconds as a number (at most 100 years).",
        }
    ),
]
# Exactly one of duration or until, and not null: JSON Schema's `required` alone lets `"until": null` pass.
_ONE_END: JsonDict = {
    "oneOf": [
        {"required": ["duration"], "properties": {"duration": {"not": {"type": "null"}}, "until": {"type": "null"}}},
        {"required": ["until"], "properties": {"until": {"not": {"type": "null"}}, "duration": {"type": "null"}}},
    ]
}


class Actor(BaseModel):
    actor: str = Field(min_length=1, max_length=128, description="Who does this (shown in Slack and history).")


class AckRequest(Actor):
    ttl: ApiDuration | None = Field(default=None, description="How long the acknowledgement holds (default 4h).")


class SilenceWindow(BaseModel):
    # Tell clients (and schemathesis) the rule the validator enforces: exactly one of duration or until.
    model_config = ConfigDict(json_schema_extra=_ONE_END)

    duration: ApiDuration | None = Field(default=None, description="From now, e.g. 2h.")
    until: datetime | None = Field(default=None, description="An aware timestamp, e.g. 2026-01-05T18:00:00Z.")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="Why (not only spaces).")

    @model_validator(mode="after")
    def _one_end(self) -> SilenceWindow:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of 'duration' or 'until'")
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("'until' needs a time zone, e.g. 2026-01-05T18:00:00Z")
        if self.until is not None:
            try:
                self.until.astimezone(UTC)
            except OverflowError:
                raise ValueError("'until' is out of range") from None
        return self

    def end(self, now: datetime) -> datetime:
        return self.until.astimezone(UTC) if self.until is not None else now + (self.duration or timedelta(0))


class IncidentSilenceRequest(Actor, SilenceWindow):
    pass


class SilenceRequest(SilenceWindow):
    author: str = Field(min_length=1, max_length=128)
    matchers: dict[str, str] = Field(description="Any of flow, system, team, rule, severity.")
    starts_at: datetime | None = None


def _silence_json(silence: Silence) -> dict[str, Any]:
    import json

    return {
        "id": silence.id,
        "matchers": json.loads(silence.matchers),
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "author": silence.author,
        "reason": silence.reason,
        "expired_at": silence.expired_at.isoformat() if silence.expired_at else None,
    }


def _fail(exc: Exception) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, SilenceError):
        return HTTPException(422, str(exc))
    return HTTPException(409, str(exc))


@router.get(
    "/api/v1/incidents",
    summary="Open incidents (all=true: the last 100, resolved too)",
    response_model=list[schemas.Incident],
)
def list_incidents(actions: ActionsDep, all: Annotated[bool, Query()] = False) -> list[dict[str, Any]]:
    return [_incident_json(summary) for summary in actions.summaries(include_resolved=all)]


def _incident_json(summary: IncidentSummary) -> dict[str, Any]:
    data = summary.model_dump()
    for alert, view in zip(data["alerts"], summary.alerts, strict=True):
        alert["evidence"] = _evidence_json(view.evidence)
    return data


def _evidence_json(table: EvidenceTable | None) -> dict[str, Any] | None:
    """The first rows and how many more: a reconciliation may have thousands of failing keys."""
    if table is None:
        return None
    rows = table.rows[:API_EVIDENCE_ROWS]
    more = len(table.rows) - len(rows) + table.more
    return {"columns": table.columns, "rows": rows, "more": more, "error": table.error}


@router.post(
    "/api/v1/incidents/{ref}/ack",
    dependencies=[WriteAccess],
    summary="Acknowledge: stops escalation",
    response_model=schemas.Acked,
    responses=answers(401, 403, 404, 409),
)
def ack(ref: str, body: AckRequest, actions: ActionsDep, settings: SettingsDep) -> dict[str, Any]:
    ttl = body.ttl or timedelta(hours=settings.ack_ttl_hours)
    try:
        incident = actions.ack(ref, body.actor, ttl, source=ActionSource.API)
    except ActionError as exc:
        raise _fail(exc) from None
    return {"incident": incident.id, "acked_by": incident.acked_by, "ack_expires_at": incident.ack_expires_at}


@router.post(
    "/api/v1/incidents/{ref}/resolve",
    dependencies=[WriteAccess],
    summary="Resolve by hand",
    response_model=schemas.Resolved,
    responses=answers(401, 403, 404, 409),
)
def resolve(ref: str, body: Actor, actions: ActionsDep) -> dict[str, Any]:
    try:
        incident = actions.resolve(ref, body.actor, source=ActionSource.API)
    except ActionError as exc:
        raise _fail(exc) from None
    return {"incident": incident.id, "status": incident.status, "resolved_by": incident.resolved_by}


@router.post(
    "/api/v1/incidents/{ref}/silence",
    dependencies=[WriteAccess],
    summary="Silence what the incident is about",
    response_model=schemas.Silence,
    responses={**answers(401, 403, 404, 409), **REFUSED},
)
def silence_incident(ref: str, body: IncidentSilenceRequest, actions: ActionsDep, clock: ClockDep) -> dict[str, Any]:
    try:
        silence = actions.silence_incident(ref, body.actor, body.end(clock.now()), body.reason)
    except (ActionError, SilenceError) as exc:
        raise _fail(exc) from None
    return _silence_json(silence)


@router.get(
    "/api/v1/silences",
    summary="Active and pending silences (all=true: expired too)",
    response_model=list[schemas.Silence],
)
def list_silences(actions: ActionsDep, all: Annotated[bool, Query()] = False) -> list[dict[str, Any]]:
    return [_silence_json(s) for s in actions.list_silences(include_expired=all)]


@router.post(
    "/api/v1/silences",
    dependencies=[WriteAccess],
    status_code=201,
    summary="Create a silence by matchers",
    response_model=schemas.Silence,
    responses={**answers(401, 403), **REFUSED},
)
def create_silence(body: SilenceRequest, actions: ActionsDep, clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    try:
        silence = actions.silence(body.matchers, body.end(now), body.author, body.reason, body.starts_at)
    except SilenceError as exc:
        raise _fail(exc) from None
    return _silence_json(silence)


@router.delete(
    "/api/v1/silences/{silence_id}",
    dependencies=[WriteAccess],
    summary="Expire a silence now",
    response_model=schemas.Silence,
    responses=answers(401, 403, 404),
)
def expire_silence(
    silence_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    actions: ActionsDep,
    actor: Annotated[str, Query(min_length=1)] = "api",
) -> dict[str, Any]:
    try:
        silence = actions.expire(silence_id, actor)
    except ActionError as exc:
        raise _fail(exc) from None
    return _silence_json(silence)
