"""One thread that fires deadlines, instead of a timer thread per probe run.

Starting a `threading.Timer` for every query cost more than many queries do; a thousand probes
on a short interval meant hundreds of thread starts a second.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Deadline:
    """A pending callback; `cancel()` before it fires and it never will."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Watchdog:
    """Calls each registered function at its deadline unless cancelled first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def after(self, seconds: float, action: Callable[[], None]) -> Deadline:
        deadline = Deadline()
        entry = (time.monotonic() + seconds, next(self._order), deadline, action)
        with self._wake:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="probe-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0] is entry:
                self._wake.notify()  # only an earlier deadline needs the sleeping thread to wake
        return deadline

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, deadline, action = heapq.heappop(self._heap)
            if not deadline.cancelled:
                action()


WATCHDOG = Watchdog()  # process-wide: one thread serves every probe
