"""Evaluation as samples arrive: the rules of a signal are evaluated when a new sample of it lands.

The interval cycle found a value over its threshold up to one interval (15 s) after it was
stored, though the evaluation itself takes milliseconds. Here, whatever stores samples (probe
results, pushes, trace refreshes) calls `touch` with the signals it wrote, and one worker thread
evaluates the rules of those signals at once. The interval cycle stays, for no-data, staleness
and escalation, and as the safety net when a pass here fails.

* Storms coalesce: the worker drains every touched signal into one pass, and takes them only once
  it holds the gate (the evaluator's lock), so samples arriving while a pass or the interval cycle
  runs are evaluated together by the next pass. Passes started by samples are also at least
  `gap` seconds apart, so a steady stream cannot turn into one pass per sample.
* Time-based changes are timed, not polled: each pass reports when a `for` or `keep_firing_for`
  runs out (alerting/timers.py), and the worker evaluates that signal's rules at that moment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime

from ..clock import Clock
from .enums import PassTrigger
from .timers import SignalKey

log = logging.getLogger(__name__)

# Evaluates the rules of the given signals; returns when they need a look again.
RunPass = Callable[[frozenset[SignalKey], PassTrigger], Mapping[SignalKey, datetime]]
# The lock every writer of alert states holds (reentrant: the pass takes it again).
Gate = Callable[[], AbstractContextManager[object]]

MAX_SLEEP = 1.0  # re-read the clock at least this often (a scaled or stepped clock)


class TriggeredEvaluation:
    """A worker thread that evaluates the rules of touched signals, and of `for` timers running out."""

    def __init__(self, run: RunPass, clock: Clock, gate: Gate, *, gap: float = 0.25, speed: float = 1.0) -> None:
        self._run = run
        self._clock = clock
        self._gate = gate
        self._gap = gap
        self._speed = speed
        self._cond = threading.Condition()
        self._touched: set[SignalKey] = set()
        self._timers: dict[SignalKey, datetime] = {}
        self._busy = False
        self._stopping = False
        self._last_sample_pass = float("-inf")
        self._thread: threading.Thread | None = None

    def touch(self, keys: Iterable[SignalKey]) -> None:
        """New samples of these (flow, signal)s are stored: evaluate their rules soon."""
        with self._cond:
            before = len(self._touched)
            self._touched.update(keys)
            if len(self._touched) != before:
                self._cond.notify_all()

    def schedule(self, wakeups: Mapping[SignalKey, datetime]) -> None:
        """Evaluate these signals' rules again at these moments (kept: the earliest per signal)."""
        if not wakeups:
            return
        with self._cond:
            for key, due in wakeups.items():
                current = self._timers.get(key)
                if current is None or due < current:
                    self._timers[key] = due
            self._cond.notify_all()

    def wake(self) -> None:
        """Look at the timers again now (after a test moved its clock)."""
        with self._cond:
            self._cond.notify_all()

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="triggered-evaluation", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the pass in flight; touched signals left over wait for the interval cycle."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing touched is waiting and no pass runs (timers may still be set)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._touched or self._busy or self._due_now():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def timers(self) -> dict[SignalKey, datetime]:
        """The moments signals will be looked at again, for /healthz-style reports and tests."""
        with self._cond:
            return dict(self._timers)

    # -- the worker -----------------------------------------------------------------------

    def _due_now(self) -> set[SignalKey]:
        now = self._clock.now()
        return {key for key, due in self._timers.items() if due <= now}

    def _sleep_for(self) -> float:
        """Seconds of real time until the next thing to do; the caller holds the condition."""
        waits = [MAX_SLEEP]
        if self._touched:
            waits.append(self._last_sample_pass + self._gap - time.monotonic())
        if self._timers:
            until = (min(self._timers.values()) - self._clock.now()).total_seconds() / self._speed
            waits.append(until)
        return max(0.0, min(waits))

    def _ready(self) -> bool:
        if self._touched and time.monotonic() >= self._last_sample_pass + self._gap:
            return True
        return bool(self._due_now())

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._ready():
                    self._cond.wait(self._sleep_for())
                if self._stopping:
                    return
                self._busy = True
            try:
                self._one_pass()
            except Exception:
                # The interval cycle evaluates every rule anyway: nothing is lost, it is only later.
                log.exception("evaluation on new samples failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _one_pass(self) -> None:
        with self._gate():
            # Taken only now: what arrived while another writer held the gate joins this pass.
            with self._cond:
                due = self._due_now()
                for key in due:
                    del self._timers[key]
                touched = frozenset(self._touched)
                self._touched.clear()
                if touched:
                    self._last_sample_pass = time.monotonic()
            trigger = PassTrigger.SAMPLE if touched else PassTrigger.TIMER
            wakeups = self._run(touched | due, trigger)
        self.schedule(wakeups)
