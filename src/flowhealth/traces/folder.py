"""A background thread that folds the span inbox into journeys whenever the receiver adds to it.

It starts with the first request and waits on an event, not a timer: with no spans coming in it
costs nothing. Woken, it lingers a moment before folding, so the rows of several requests are
folded together: a journey's spans usually come in requests close together (one per system),
and merged in memory they cost one journey write instead of one per request. Rows it has not reached (a crash, another replica's) are folded by the trace
refresh, which drains the inbox before it reads signal values.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import StoreError

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0  # seconds; a failed fold (the database away) is tried again after this pause


class Folder:
    """Runs `drain` on its own thread each time it is woken; `close` stops it."""

    def __init__(self, drain: Callable[[], None], linger: float = 0.0) -> None:
        self._drain = drain
        self._linger = linger
        self._wanted = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def wake(self) -> None:
        """Fold what is waiting, soon; starts the thread on first use."""
        with self._guard:
            if self._closed.is_set():
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="flowhealth-span-folder", daemon=True)
                self._thread.start()
        self._wanted.set()

    def close(self) -> None:
        """Stop after the fold in progress; what is still in the inbox stays there."""
        with self._guard:
            self._closed.set()
            thread = self._thread
        self._wanted.set()
        if thread is not None:
            thread.join(30)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._closed.is_set() or self._closed.wait(self._linger):
                return
            self._wanted.clear()
            try:
                self._drain()
            except StoreError as exc:
                log.warning("spans not folded into journeys yet: %s", str(exc).splitlines()[0])
                self._retry_later()
            except Exception:
                log.exception("folding spans into journeys failed")
                self._retry_later()

    def _retry_later(self) -> None:
        if not self._closed.wait(RETRY_AFTER):
            self._wanted.set()
