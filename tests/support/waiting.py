"""Waiting for a real process or thread to reach a state: the one polling loop the tests share."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float, what: str, *, every: float = 0.1) -> None:
    """Poll `condition` until it is truthy; fail naming `what` after `timeout` seconds.

    Used where the thing waited for runs in another thread or process (a serve subprocess, the
    scheduler, Alertmanager's group_wait), so there is no clock the test could advance instead.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)
