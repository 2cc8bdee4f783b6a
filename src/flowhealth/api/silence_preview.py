"""Which current alerts a silence would match, before anyone creates it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlmodel import Session, col, select

from ..alerting.enums import AlertState as State
from ..alerting.silences import SilenceError, identity, validate_matchers
from ..store.tables import AlertState
from ..store.types import labels_of
from .access import may_read
from .deps import RuntimeDep
from .errors import REFUSED, answers

router = APIRouter(tags=["incidents"])


class MatchedAlert(BaseModel):
    rule: str
    flow: str
    labels: dict[str, str]
    state: str
    owner: str
    incident: int | None


class SilencePreview(BaseModel):
    matchers: dict[str, str]
    alerts: list[MatchedAlert]


Matcher = Annotated[str | None, Query(max_length=128)]


@router.get(
    "/api/v1/silences/preview",
    summary="The pending and firing alerts a silence with these matchers would mute now",
    response_model=SilencePreview,
    responses={**answers(401), **REFUSED},
)
def preview(
    request: Request,
    runtime: RuntimeDep,
    flow: Matcher = None,
    system: Matcher = None,
    team: Matcher = None,
    rule: Matcher = None,
    severity: Matcher = None,
) -> SilencePreview:
    if not may_read(request, runtime):
        raise HTTPException(401, "this needs FLOWHEALTH_BOARD_TOKEN", headers={"WWW-Authenticate": "Bearer"})
    given = {"flow": flow, "system": system, "team": team, "rule": rule, "severity": severity}
    model = runtime.model
    try:
        matchers = validate_matchers(model, {k: v for k, v in given.items() if v})
    except SilenceError as exc:
        raise HTTPException(422, str(exc)) from None
    rules = model.all_rules()
    with Session(runtime.engine) as session:
        states = session.exec(
            select(AlertState)
            .where(col(AlertState.state).in_([State.PENDING, State.FIRING]))
            .order_by(col(AlertState.rule))
        ).all()
    return SilencePreview(
        matchers=matchers,
        alerts=[
            MatchedAlert(
                rule=s.rule,
                flow=rules[s.rule].flow,
                labels=labels_of(s.labels),
                state=s.state,
                owner=s.owner,
                incident=s.incident_id,
            )
            for s in states
            if s.rule in rules and identity(model, s.rule, s.owner).matched_by(matchers)
        ],
    )
