"""A webhook receiver as a careful user would write one: verify the signature, refuse replays, dedupe.

It recomputes HMAC-SHA256 over ``v1:{timestamp}:{body}`` itself (not with flowhealth's helper), refuses
timestamps more than five minutes off, and counts a repeated idempotency key as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WebhookReceiver:
    secret: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    failures: deque[str] = field(default_factory=deque)  # "500", "500-after-store", "drop"
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: set[str] = field(default_factory=set)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.down:
            return 0, {}, b""
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
            if failure == "500":
                return 500, {}, b""
            if failure == "drop":
                return 0, {}, b""
            timestamp = headers.get("x-flowhealth-timestamp", "")
            given = headers.get("x-flowhealth-signature", "")
            expected = (
                "v1=" + hmac.new(self.secret.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
            )
            if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
                self.refused.append("stale timestamp")
                return 401, {}, b"stale"
            if not hmac.compare_digest(expected, given):
                self.refused.append("bad signature")
                return 401, {}, b"bad signature"
            key = headers.get("x-flowhealth-idempotency-key", "")
            if key in self._seen:
                self.duplicates += 1
            else:
                self._seen.add(key)
                self.bodies.append(json.loads(body))
            if failure == "500-after-store":
                return 500, {}, b""
            return 204, {}, b""
