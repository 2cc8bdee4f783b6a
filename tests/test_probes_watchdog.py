"""The shared deadline thread that stops hung probe queries."""

from __future__ import annotations

import threading

from flowhealth.probes.watchdog import Watchdog


def test_deadlines_fire_in_order_and_cancelled_ones_never() -> None:
    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    watchdog.after(0.05, lambda: fired.append("first"))
    cancelled = watchdog.after(0.08, lambda: fired.append("cancelled"))
    watchdog.after(0.1, lambda: (fired.append("last"), done.set()))
    cancelled.cancel()
    assert done.wait(5)
    assert fired == ["first", "last"]


def test_an_earlier_deadline_added_later_wakes_the_thread() -> None:
    watchdog = Watchdog()
    early = threading.Event()
    watchdog.after(30, lambda: None)  # the thread now sleeps for 30 s
    watchdog.after(0.05, early.set)
    assert early.wait(5)
