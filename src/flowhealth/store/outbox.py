"""The notification outbox: enqueue with the state change, claim in order, settle after delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from .tables import NotificationThread, OutboxMessage


@dataclass(frozen=True)
class ThreadRef:
    """Where an incident's message was posted: channel id and message timestamp."""

    channel_id: str
    message_ts: str


def enqueue(
    session: Session,
    *,
    dedup_key: str,
    thread_key: str,
    kind: str,
    team: str,
    channel: str,
    payload: str,
    now: datetime,
    receiver: str = "slack",
) -> bool:
    """Add a message (`payload`: its JSON) unless one with the same dedup key exists; True when added."""
    exists = session.exec(select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)).first()
    if exists is not None:
        return False
    session.add(
        OutboxMessage(
            dedup_key=dedup_key,
            thread_key=thread_key,
            kind=kind,
            team=team,
            channel=channel,
            receiver=receiver,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )
    )
    return True


def due_messages(session: Session, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Undelivered messages that are due, at most the oldest one per thread (order per incident)."""
    # Dead letters wait for a person and hold nothing up: the incident's later messages go on.
    pending = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.dead_lettered_at).is_(None))
        .order_by(col(OutboxMessage.id))
    ).all()
    heads: dict[str, OutboxMessage] = {}
    for message in pending:
        heads.setdefault(message.thread_key, message)
    due = [m for m in heads.values() if m.next_attempt_at <= now]
    return sorted(due, key=lambda m: m.id or 0)[:limit]


def claim(session: Session, message_id: int, now: datetime, lease: timedelta) -> OutboxMessage | None:
    """Take a due message for one delivery attempt, or None when another replica has it or it is done.

    `FOR UPDATE SKIP LOCKED` lets one replica's claim pass another's without waiting; the lease
    (the message is not due again until it ends) keeps it ours while the call to Slack runs
    outside any transaction. A replica that dies mid-call leaves the message due again when the
    lease ends, and that attempt checks Slack before posting. SQLite ignores the row lock: there
    one process delivers.
    """
    row = session.exec(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.delivered_at).is_(None),
            col(OutboxMessage.dead_lettered_at).is_(None),
            col(OutboxMessage.next_attempt_at) <= now,
        )
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    row.attempts += 1
    row.attempt_started_at = now
    row.next_attempt_at = now + lease
    session.add(row)
    return row


def thread_ref(session: Session, thread_key: str) -> ThreadRef | None:
    row = session.get(NotificationThread, thread_key)
    return None if row is None else ThreadRef(row.channel_id, row.message_ts)


def save_thread(session: Session, thread_key: str, ref: ThreadRef, now: datetime) -> None:
    """Where the thread's message lives; a re-posted anchor (the old one could not be edited) replaces it."""
    row = session.get(NotificationThread, thread_key)
    if row is None:
        session.add(
            NotificationThread(
                thread_key=thread_key,
                channel_id=ref.channel_id,
                message_ts=ref.message_ts,
                created_at=now,
            )
        )
    elif (row.channel_id, row.message_ts) != (ref.channel_id, ref.message_ts):
        row.channel_id, row.message_ts = ref.channel_id, ref.message_ts
        session.add(row)


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many messages wait, and since when the oldest has waited."""
    row = session.exec(
        select(func.count(), func.min(OutboxMessage.created_at)).where(col(OutboxMessage.delivered_at).is_(None))
    ).one()
    count, oldest = row
    if isinstance(oldest, datetime) and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return int(count or 0), oldest


def backoff(attempts: int, retry_after: float | None, *, base: float = 2.0, cap: float = 300.0) -> timedelta:
    """When the server said when (429 Retry-After), then; otherwise exponential backoff."""
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


def waiting(session: Session, *, include_delivered: bool = False, limit: int = 200) -> list[OutboxMessage]:
    """Messages not delivered yet (queued or dead-lettered), oldest first."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if not include_delivered:
        query = query.where(col(OutboxMessage.delivered_at).is_(None))
    return list(session.exec(query.limit(limit)).all())


def replay(session: Session, message_id: int, now: datetime) -> OutboxMessage | None:
    """Send a dead-lettered (or waiting) message again now; None when there is no such undelivered message."""
    row = session.get(OutboxMessage, message_id)
    if row is None or row.delivered_at is not None:
        return None
    row.dead_lettered_at = None
    row.next_attempt_at = now
    row.attempts = 0  # a fresh retry budget; maybe_sent still says whether to look first
    session.add(row)
    return row
