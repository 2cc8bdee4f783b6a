"""A stand-in probe for scheduling tests: it counts its runs and how many of them overlap."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from flowhealth.store.samples import Reading


class StandInProbe:
    """Takes `seconds` per run (the target's own slowness), or holds every run until released."""

    def __init__(self, kind: str = "sql", *, seconds: float = 0.0, blocks: bool = False) -> None:
        self.kind = kind
        self.seconds = seconds
        self.blocks = blocks
        self.release = threading.Event()
        self.entered = threading.Event()
        self.runs = 0
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def run(self, now: datetime) -> list[Reading]:
        with self._lock:
            self.runs += 1
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.entered.set()
        if self.blocks:
            self.release.wait(30)  # the target never answering, until the test ends
        elif self.seconds:
            time.sleep(self.seconds)  # the target's own slowness, not a test wait
        with self._lock:
            self.active -= 1
        return [Reading(1.0)]

    def close(self) -> None:
        self.release.set()
