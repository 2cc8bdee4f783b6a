"""Slack requests already seen: a replayed interaction or command is applied once.

Slack retries a request it did not get an answer to, and a captured signed request can be sent
again within the 5 minutes the signature is valid. Each interaction carries an `action_ts`
(per button press) or a `trigger_id` (per modal submission and slash command); the first request
with a key is applied, later ones are answered 200 and dropped.

The memory is per process and bounded (least recently seen keys are forgotten first): enough
for the 5-minute signature window at any realistic click rate. With several replicas a replay
may reach another process; the actions behind it are idempotent (a second ack is refused with
who acknowledged, a resolve of a resolved incident changes nothing), so nothing is applied twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_KEYS = 10_000


class SeenRequests:
    """A bounded, thread-safe set of request keys, oldest forgotten first."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._max = max_keys
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True the first time a key is seen; an empty key (Slack sent none) is always new."""
        if not key:
            return True
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            if len(self._keys) > self._max:
                self._keys.popitem(last=False)
            return True
