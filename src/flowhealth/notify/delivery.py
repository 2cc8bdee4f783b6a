"""The outbox worker: delivers due messages in order per incident, with backoff, never twice."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from ..alerting.enums import Outcome
from ..alerting.notices import Message, UnknownVersion, read_message
from ..clock import Clock
from ..errors import DeliveryRejected, DeliveryRetryable, StoreError
from ..metrics import Metrics
from ..store.db import transaction
from ..store.outbox import backoff, claim, due_messages, save_thread, thread_ref
from ..store.tables import OutboxMessage
from .base import Delivery, Notifier
from .needs_person import PersonFix, alert_line, person_fix

log = logging.getLogger(__name__)

REJECTED_RETRY_SECONDS = 600.0
# Transient failures (timeouts, 5xx, 429) are retried with backoff this many times (about an
# hour with the 5-minute cap), then dead-lettered: listed by `flowhealth outbox`, replayed by hand.
MAX_TRANSIENT_ATTEMPTS = 16
UNREADABLE_RETRY_SECONDS = 3600.0  # a row this process cannot read waits for one that can
CLAIM_LEASE_SECONDS = 15.0  # the Slack client gives up after 10 s
MAX_WAKE_WAIT = 5.0  # a paced channel is looked at again at least this often between wake-ups


@dataclass
class PassReport:
    delivered: int = 0
    retried: int = 0
    deferred: int = 0


class OutboxWorker:
    """One pass delivers what is due; the scheduler runs a pass every few seconds."""

    def __init__(
        self,
        engine: Engine,
        notifier: Notifier,
        clock: Clock,
        metrics: Metrics,
        batch: int = 50,
        *,
        pacing_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`pacing_clock` (seconds, monotonic) paces messages per channel; tests pass a fake one."""
        self._engine = engine
        self._notifier = notifier
        self._clock = clock
        self._metrics = metrics
        self._batch = batch
        self._pacing_clock = pacing_clock
        self._channel_free_at: dict[str, float] = {}
        self._pass = threading.Lock()
        # (receiver, channel) waiting on a person: the alert line repeats each retry until it clears.
        self._failing: dict[tuple[str, str], PersonFix] = {}
        # Replicas (PostgreSQL) hold a claimed message this long: longer than a Slack call can take.
        # One process (SQLite) needs no lease: after a crash the message is due again at once.
        self._lease = timedelta(seconds=CLAIM_LEASE_SECONDS if engine.dialect.name == "postgresql" else 0)
        # Woken when an evaluation queued messages, so they go out now rather than at the next pass.
        self._woken = threading.Event()
        self._waker: threading.Thread | None = None
        self._waker_guard = threading.Lock()
        self._closing = False

    def wake(self) -> None:
        """Deliver what is due now, on the worker's own thread, instead of at the next scheduled pass."""
        with self._waker_guard:
            if self._closing:
                return
            if self._waker is None:
                self._waker = threading.Thread(target=self._wake_loop, name="outbox-wake", daemon=True)
                self._waker.start()
        self._woken.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the woken passes after the one in flight; wake() starts them again."""
        with self._waker_guard:
            waker, self._waker = self._waker, None
            self._closing = True
        self._woken.set()
        if waker is not None:
            waker.join(timeout)
        with self._waker_guard:
            self._closing = False
            self._woken.clear()

    def _wake_loop(self) -> None:
        wait: float | None = None
        while True:
            self._woken.wait(wait)
            if self._closing:
                return
            self._woken.clear()
            try:
                report = self.run_once()
            except Exception:
                log.exception("delivery pass failed")  # the scheduled passes retry
                wait = None
                continue
            # A channel still paced (Slack takes about one message a second): come back when it is free.
            wait = self._until_a_channel_is_free() if report.deferred else None

    def _until_a_channel_is_free(self) -> float:
        now = self._pacing_clock()
        waits = [free - now for free in self._channel_free_at.values() if free > now]
        return min([MAX_WAKE_WAIT, *waits])

    def run_once(self) -> PassReport:
        """Deliver what is due; passes never overlap (two at once could post one message twice)."""
        with self._pass:
            return self._run_once()

    def _run_once(self) -> PassReport:
        report = PassReport()
        with transaction(self._engine) as session:
            due = due_messages(session, self._clock.now(), self._batch)
        blocked_channels: set[str] = set()
        for message in due:
            if message.channel in blocked_channels or self._pacing_clock() < self._channel_free_at.get(
                message.channel, 0.0
            ):
                report.deferred += 1
                continue
            outcome = self._deliver(message)
            if outcome == Outcome.DELIVERED:
                report.delivered += 1
                self._channel_free_at[message.channel] = self._pacing_clock() + self._notifier.min_interval_per_channel
            elif outcome == Outcome.RETRY:
                report.retried += 1
                blocked_channels.add(message.channel)  # keep order within the channel; Slack needs a pause
        return report

    def _deliver(self, message: OutboxMessage) -> Outcome | None:
        assert message.id is not None
        # Count the attempt before calling out: after a crash mid-call, the next attempt knows
        # the message may already be in Slack and checks before posting again.
        with transaction(self._engine) as session:
            row = claim(session, message.id, self._clock.now(), self._lease)
            if row is None:
                return None
            # Set before calling out, so a crash mid-call leaves it set; cleared again below when
            # the receiver certainly did not take the message (a 429, a refused connection).
            maybe_sent_before = row.maybe_sent
            row.maybe_sent = True
            session.add(row)
            attempt = row.attempts
            thread = thread_ref(session, row.thread_key)
        try:
            content: Message = read_message(message.kind, message.payload, at=message.created_at)
        except (UnknownVersion, ValueError) as exc:
            # Never dropped: it waits (and says why in last_error) until a process that reads it runs.
            log.error("outbox message %s cannot be read: %s", message.dedup_key, exc)
            self._metrics.notifications.labels(message.kind, self._channel_kind(message.receiver), Outcome.RETRY).inc()
            self._settle(message.id, error=str(exc), retry_after=UNREADABLE_RETRY_SECONDS, attempt=attempt)
            return Outcome.RETRY
        delivery = Delivery(
            dedup_key=message.dedup_key,
            thread_key=message.thread_key,
            kind=message.kind,
            channel=message.channel,
            message=content,
            attempt=attempt,
            receiver=message.receiver,
            maybe_sent=maybe_sent_before,
        )
        try:
            ref = self._notifier.deliver(delivery, thread)
        except (DeliveryRetryable, DeliveryRejected) as exc:
            retry_after = exc.retry_after if isinstance(exc, DeliveryRetryable) else REJECTED_RETRY_SECONDS
            level = logging.ERROR if isinstance(exc, DeliveryRejected) else logging.WARNING
            log.log(
                level,
                "notification %s not delivered (attempt %d): %s",
                message.dedup_key,
                attempt,
                exc,
            )
            self._metrics.notifications.labels(message.kind, self._channel_kind(message.receiver), Outcome.RETRY).inc()
            reason = person_fix(str(exc)) if isinstance(exc, DeliveryRejected) else None
            if reason is not None:
                self._failing[(message.receiver, message.channel)] = reason
                log.error(alert_line(message.receiver, message.channel, reason))
            not_sent = isinstance(exc, DeliveryRejected) or not exc.maybe_sent
            self._settle(
                message.id,
                error=str(exc),
                retry_after=retry_after,
                attempt=attempt,
                maybe_sent=maybe_sent_before if not_sent else True,
                transient=isinstance(exc, DeliveryRetryable),
            )
            if isinstance(exc, DeliveryRetryable) and exc.retry_after is not None:
                # Retry-After speaks for the channel, not just this message: nothing else goes there until then.
                self._channel_free_at[message.channel] = self._pacing_clock() + exc.retry_after
            return Outcome.RETRY
        except Exception as exc:
            log.exception("notifier crashed on %s", message.dedup_key)
            self._metrics.notifications.labels(message.kind, self._channel_kind(message.receiver), Outcome.RETRY).inc()
            self._settle(
                message.id,
                error=f"internal error: {type(exc).__name__}",
                retry_after=None,
                attempt=attempt,
            )
            return Outcome.RETRY
        try:
            with transaction(self._engine) as session:
                row = session.get(OutboxMessage, message.id)
                assert row is not None
                now = self._clock.now()
                row.delivered_at = now
                row.last_error = None
                session.add(row)
                save_thread(session, message.thread_key, ref, now)
        except StoreError:
            # Delivered but not recorded: the next attempt finds the message in Slack and stops.
            log.exception("delivered %s but could not record it", message.dedup_key)
            return Outcome.RETRY
        self._metrics.notifications.labels(message.kind, self._channel_kind(message.receiver), Outcome.DELIVERED).inc()
        cleared = self._failing.pop((message.receiver, message.channel), None)
        if cleared is not None:
            log.warning("RESOLVED %s", alert_line(message.receiver, message.channel, cleared).removeprefix("ALERT "))
        return Outcome.DELIVERED

    def _channel_kind(self, receiver: str) -> str:
        kind_of = getattr(self._notifier, "channel_kind", None)
        return str(kind_of(receiver)) if kind_of is not None else "slack"

    def _settle(
        self,
        message_id: int,
        *,
        error: str,
        retry_after: float | None,
        attempt: int,
        maybe_sent: bool = True,
        transient: bool = False,
    ) -> None:
        with transaction(self._engine) as session:
            row = session.get(OutboxMessage, message_id)
            if row is None:
                return
            row.last_error = error[:1000]
            row.maybe_sent = maybe_sent
            if transient and attempt >= MAX_TRANSIENT_ATTEMPTS:
                row.dead_lettered_at = self._clock.now()
                log.error("notification %s dead-lettered after %d attempts: %s", row.dedup_key, attempt, error)
            row.next_attempt_at = self._clock.now() + backoff(attempt, retry_after)
            session.add(row)
