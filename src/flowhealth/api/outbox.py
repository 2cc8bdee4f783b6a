"""`GET /api/v1/outbox`: notifications not delivered yet, and why: the same list as `flowhealth outbox list`.

A read like the other lists (no token): it shows receivers, channels and error reasons, never
message content. A message held by an error a person must fix says so (`needs_person`) with the fix.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from ..notify.needs_person import FIXES, PersonFix, person_fix
from ..store.outbox import waiting
from ..store.tables import OutboxMessage
from .deps import EngineDep

router = APIRouter(tags=["outbox"])


class OutboxState(StrEnum):
    WAITING = "waiting"
    DEAD_LETTER = "dead letter"
    DELIVERED = "delivered"


class OutboxEntry(BaseModel):
    id: int
    state: OutboxState
    receiver: str = Field(description="slack, or team/receiver for a team's other channels")
    channel: str
    kind: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = Field(description="Why the last attempt failed")
    needs_person: PersonFix | None = Field(description="Set when only a person can fix what holds the message")
    fix: str | None = Field(description="What to do about needs_person")


def _entry(row: OutboxMessage) -> OutboxEntry:
    if row.delivered_at is not None:
        state = OutboxState.DELIVERED
    else:
        state = OutboxState.DEAD_LETTER if row.dead_lettered_at is not None else OutboxState.WAITING
    reason = person_fix(row.last_error) if state == OutboxState.WAITING else None
    return OutboxEntry(
        id=row.id or 0,
        state=state,
        receiver=row.receiver,
        channel=row.channel,
        kind=row.kind,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        needs_person=reason,
        fix=FIXES[reason] if reason is not None else None,
    )


@router.get(
    "/api/v1/outbox",
    summary="Notifications not delivered yet (all=true: delivered too), oldest first, with why they wait",
    response_model=list[OutboxEntry],
)
def list_outbox(engine: EngineDep, all: Annotated[bool, Query()] = False) -> list[OutboxEntry]:
    with Session(engine) as session:
        return [_entry(row) for row in waiting(session, include_delivered=all)]
