"""The redis probe: list length, and a stream consumer group's lag, pending entries and ages.

`XINFO GROUPS` reports `lag` as null when Redis cannot compute it (entries deleted or trimmed
in the group's range); that is an unknown value, never zero. Ages come from entry IDs, whose
first part is the server's clock in milliseconds, compared with the server's `TIME`, so our
clock and the broker's need not agree. (Entries added with explicit, non-time IDs have no age.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import ProbeError, ProbeInvalid, ProbeTimeout
from ..store.samples import Reading
from .clients import SharedClients, require


class RedisProbe:
    """One measure of one key."""

    kind = "redis"

    def __init__(
        self,
        clients: SharedClients,
        connection: str,
        url: str,
        pool_size: int,
        key: str,
        measure: str,
        group: str | None,
        timeout: float,
    ) -> None:
        self._clients = clients
        self._connection = connection
        self._client_key = ("redis", connection, timeout)
        self._url = url
        self._pool_size = pool_size
        self._key = key
        self._measure = measure
        self._group = group
        self._timeout = timeout

    def _client(self) -> Any:
        redis = require("redis", "redis")
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        def build() -> Any:
            # No client-side retries: a retry would stretch one run past its timeout.
            return redis.Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 0),
                max_connections=self._pool_size,
                decode_responses=True,
            )

        return self._clients.get(self._client_key, build, lambda client: client.close())

    def run(self, now: datetime) -> list[Reading]:
        redis = require("redis", "redis")
        client = self._client()
        try:
            return [Reading(self._measure_with(client))]
        except redis.TimeoutError:
            raise ProbeTimeout(
                f"Redis connection '{self._connection}' did not answer within {self._timeout:g}s"
            ) from None
        except redis.AuthenticationError:
            raise ProbeError(f"Redis connection '{self._connection}' refused the credentials") from None
        except redis.ConnectionError as exc:
            raise ProbeError(f"cannot connect to Redis connection '{self._connection}': {type(exc).__name__}") from None
        except redis.ResponseError as exc:
            raise ProbeInvalid(f"Redis answered for key '{self._key}': {str(exc)[:200]}") from None

    def _measure_with(self, client: Any) -> float | None:
        if self._measure == "length":
            return float(client.llen(self._key))
        group = self._group_info(client)
        if self._measure == "lag":
            lag = group.get("lag")
            return None if lag is None else float(lag)
        if self._measure == "pending":
            return float(group["pending"])
        if self._measure == "oldest_pending_age":
            summary = client.xpending(self._key, self._group)
            oldest = summary.get("min") if summary.get("pending") else None
            return 0.0 if oldest is None else _age(client, oldest)
        # oldest_waiting_age: the first entry after the group's last delivered one.
        entries = client.xrange(self._key, min=f"({group['last-delivered-id']}", count=1)
        return 0.0 if not entries else _age(client, entries[0][0])

    def _group_info(self, client: Any) -> dict[str, Any]:
        for info in client.xinfo_groups(self._key):
            if info.get("name") == self._group:
                return dict(info)
        raise ProbeError(f"stream '{self._key}' has no consumer group '{self._group}'")

    def close(self) -> None:
        """The client belongs to the shared clients, which close it."""


def _age(client: Any, entry_id: str) -> float:
    seconds, micros = client.time()
    server_ms = float(seconds) * 1000 + float(micros) / 1000
    return max(0.0, (server_ms - int(entry_id.split("-")[0])) / 1000)
