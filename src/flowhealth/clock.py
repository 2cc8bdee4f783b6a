"""Injected time, so `for:` durations and outages are tested by moving a clock, not sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    """Time that runs `speed` times faster than the wall clock, from the moment it is made.

    The demo uses it so that a 20-minute incident plays out in under a minute of real time,
    with every component (probes, evaluator, simulator) agreeing on what time it is.
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._mono0 = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._mono0
        return self._start + timedelta(seconds=elapsed * self.speed)


class FakeClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def monotonic(self) -> float:
        """Seconds on the fake timeline, for what paces itself on a monotonic clock (the outbox worker)."""
        with self._lock:
            return self._now.timestamp()

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment
