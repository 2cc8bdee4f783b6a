"""The board's delivery banner: receivers that failed to tell an owner, so on-call knows nobody was told.

A flow card saying "firing" reads as "the owner knows". When the outbox holds messages that a
receiver refused or could not take (rate limited, bad token, bot not in the channel, given up
after retries), the board says so above everything else, per receiver: how many, since when, why.
Messages that simply have not been tried yet (no error) are not a failure and do not count.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from ..notify.needs_person import FIXES, person_fix
from ..store.tables import OutboxMessage

SLACK = "slack"
REPLAY = "once the receiver works again, send given-up messages with `flowhealth outbox replay ID` (ids: `flowhealth outbox list`)"
# Transient errors as the notifiers word them (notify/slack.py, notify/http_post.py), shortened.
_TRANSIENT = (
    ("rate limit", "rate limited"),
    ("(429)", "rate limited"),
    ("unreachable", "unreachable"),
    ("did not answer in time", "timed out"),
    ("HTTP 5", "server error"),
    ("answered 5", "server error"),
    ("cannot be read", "unreadable message"),
    ("internal error", "internal error"),
)


class DeliveryProblem(BaseModel):
    """A receiver that failed to deliver: the owners it should have told were not told."""

    model_config = ConfigDict(frozen=True)

    receiver: str = Field(description="slack, or team/receiver.")
    name: str
    waiting: int = Field(description="Messages still being retried.")
    given_up: int = Field(description="Messages dead-lettered after their retries ran out.")
    since: str = Field(description="When the oldest of them was queued (ISO 8601).")
    reasons: list[str] = Field(description="Slack error codes a person must fix, or rate limited, unreachable, ...")
    channels: list[str]
    fixes: list[str] = Field(description="What a person should do about the reasons that need one.")
    text: str = Field(description="The banner line, for people.")


def delivery_reason(error: str) -> str:
    """A short, bounded reason for a delivery error: a Slack error code a person must fix, or what failed."""
    fix = person_fix(error)
    if fix is not None:
        return fix.value
    for needle, reason in _TRANSIENT:
        if needle in error:
            return reason
    return "error"


def _receiver_name(receiver: str) -> str:
    return "Slack" if receiver == SLACK else receiver


def delivery_problems(session: Session, now: datetime, incident: int | None = None) -> list[DeliveryProblem]:
    """Per failing receiver: messages waiting and given up, the oldest, reasons, channels and fixes
    (of one incident's messages when `incident` is given)."""
    query = select(OutboxMessage).where(
        col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.last_error).is_not(None)
    )
    if incident is not None:
        # An incident's threads: its message, its posts, and one per extra receiver route.
        key = f"incident:{incident}"
        query = query.where(
            (col(OutboxMessage.thread_key) == key) | col(OutboxMessage.thread_key).startswith(f"{key}:")
        )
    rows = session.exec(query).all()
    by_receiver: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        by_receiver.setdefault(row.receiver, []).append(row)
    return [_problem(receiver, found, now) for receiver, found in sorted(by_receiver.items())]


def _problem(receiver: str, rows: list[OutboxMessage], now: datetime) -> DeliveryProblem:
    reasons = sorted({delivery_reason(r.last_error or "") for r in rows})
    fixes = sorted({FIXES[fix] for r in rows if (fix := person_fix(r.last_error)) is not None})
    since: datetime = min(r.created_at for r in rows)
    waiting = sum(1 for r in rows if r.dead_lettered_at is None)
    given_up = len(rows) - waiting
    name = _receiver_name(receiver)
    counts = [f"{_count(waiting)} waiting"] if waiting else []
    counts += [f"{_count(given_up)} given up"] if given_up else []
    if given_up:
        fixes.append(REPLAY)
    when = f"{since:%H:%M}" if since.date() == now.date() else f"{since:%Y-%m-%d %H:%M}"
    text = f"{name}: {' and '.join(counts)} since {when} UTC — {' / '.join(reasons)}"
    return DeliveryProblem(
        receiver=receiver,
        name=name,
        waiting=waiting,
        given_up=given_up,
        since=since.isoformat(),
        reasons=reasons,
        channels=sorted({r.channel for r in rows}),
        fixes=fixes,
        text=text,
    )


def _count(n: int) -> str:
    return f"{n} notification{'' if n == 1 else 's'}"
