"""The nats probe: a JetStream consumer's pending, unacknowledged and redelivered messages.

nats-py is asyncio; probes run on the scheduler's worker threads. One event loop runs in its
own thread for every NATS connection of the process, and each run hands it a coroutine and
waits with a timeout, so a worker thread never owns a loop and a hung server never blocks one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any, TypeVar

from ..errors import ProbeError, ProbeTimeout
from ..store.samples import Reading
from .clients import SharedClients, require

T = TypeVar("T")

_FIELDS = {"pending": "num_pending", "ack_pending": "num_ack_pending", "redelivered": "num_redelivered"}


class LoopThread:
    """An asyncio loop in a daemon thread that other threads submit coroutines to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nats-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=2)
        if not self.loop.is_running():
            self.loop.close()


class NatsProbe:
    """One measure of one JetStream consumer."""

    kind = "nats"

    def __init__(
        self,
        clients: SharedClients,
        connection: str,
        url: str,
        stream: str,
        consumer: str,
        measure: str,
        timeout: float,
    ) -> None:
        self._clients = clients
        self._connection = connection
        self._key = ("nats", connection)
        self._url = url
        self._stream = stream
        self._consumer = consumer
        self._field = _FIELDS[measure]
        self._timeout = timeout

    def _loop(self) -> LoopThread:
        return self._clients.get(("nats-loop",), LoopThread, LoopThread.close)

    def _client(self, loop: LoopThread) -> Any:
        nats = require("nats", "nats")

        async def connect() -> Any:
            # No background reconnects: a broken client is dropped and the next run connects
            # afresh, so "down" is an error now and "back" is a success on the next run.
            return await nats.connect(
                servers=[self._url],
                name="flowhealth",
                connect_timeout=self._timeout,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=_ignore,
            )

        client = self._clients.get(
            self._key, lambda: loop.run(connect(), self._timeout + 1), lambda nc: loop.run(nc.close(), 2)
        )
        if not client.is_connected:
            self._clients.discard(self._key)
            raise ProbeError(f"NATS connection '{self._connection}' was lost; reconnecting on the next run")
        return client

    def run(self, now: datetime) -> list[Reading]:
        nats_errors = require("nats.errors", "nats")
        js_errors = require("nats.js.errors", "nats")
        loop = self._loop()
        try:
            client = self._client(loop)
            info = loop.run(
                client.jetstream(timeout=self._timeout).consumer_info(self._stream, self._consumer),
                self._timeout + 0.5,
            )
        except (FutureTimeout, TimeoutError, nats_errors.TimeoutError):
            self._clients.discard(self._key)
            raise ProbeTimeout(
                f"NATS connection '{self._connection}' did not answer within {self._timeout:g}s"
            ) from None
        except js_errors.NotFoundError:
            raise ProbeError(
                f"JetStream consumer '{self._consumer}' of stream '{self._stream}' does not exist"
            ) from None
        except ProbeError:
            raise
        except Exception as exc:
            self._clients.discard(self._key)
            # nats-py messages can carry the server URL with credentials; the class name is safe.
            raise ProbeError(f"NATS connection '{self._connection}' failed: {type(exc).__name__}") from None
        return [Reading(float(getattr(info, self._field) or 0))]

    def close(self) -> None:
        """The client and loop belong to the shared clients, which close them."""


async def _ignore(_error: Exception) -> None:
    """nats-py logs connection errors loudly; the probe outcome already reports them."""
