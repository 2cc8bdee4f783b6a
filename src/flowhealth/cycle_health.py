"""Whether the background cycles (evaluation, delivery, traces, pruning) are working, for /healthz.

A process whose database answers `SELECT 1` can still fail every evaluation (a missing column, a
full disk, a lock): alerting is down while the connection looks fine. Each cycle reports its last
outcome here, and /healthz says `degraded` while any of them is failing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CycleFailure:
    """The cycle has failed on every run since `since`; `reason` is the last error, one line."""

    since: datetime
    reason: str

    def __str__(self) -> str:
        return f"failing since {self.since.isoformat(timespec='seconds')}: {self.reason}"


class CycleHealth:
    """Last outcome per cycle name; thread-safe (cycles run in scheduler threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ran: set[str] = set()
        self._failing: dict[str, CycleFailure] = {}

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._ran.add(name)
            self._failing.pop(name, None)

    def failed(self, name: str, reason: str, at: datetime) -> None:
        with self._lock:
            self._ran.add(name)
            previous = self._failing.get(name)
            self._failing[name] = CycleFailure(previous.since if previous else at, reason.splitlines()[0][:300])

    def failing(self) -> dict[str, CycleFailure]:
        with self._lock:
            return dict(self._failing)

    def report(self) -> dict[str, str]:
        """Each cycle that has run: `ok`, or since when and why it fails."""
        with self._lock:
            return {name: str(self._failing[name]) if name in self._failing else "ok" for name in sorted(self._ran)}
