"""The notifier interface the outbox worker delivers through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..alerting.notices import Message
from ..store.outbox import ThreadRef


@dataclass(frozen=True)
class Delivery:
    """One outbox message as a notifier sees it."""

    dedup_key: str
    thread_key: str
    kind: str  # a NoticeKind: open, update or post
    channel: str
    message: Message  # validated: the view and notices to render
    attempt: int  # 1 on the first try; >1 means an earlier try may have reached the other side
    receiver: str = "slack"  # or team/receiver: a team's PagerDuty, Teams, webhook or email channel


class Notifier(Protocol):
    """Delivers a message; returns where the incident's message lives. Raises DeliveryError."""

    # Minimum seconds between two messages to one channel (Slack allows about one per second).
    min_interval_per_channel: float

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef: ...
