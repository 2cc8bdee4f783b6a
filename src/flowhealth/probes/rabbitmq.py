"""The rabbitmq probe: ready messages and consumers of a queue, over plain AMQP.

AMQP's passive `queue.declare` answers with two numbers: messages *ready* for delivery and
attached *consumers*. Unacknowledged messages (delivered, not yet acked) and the age of the
oldest message are not part of AMQP; only the management HTTP API knows them. We measure what
the protocol tells honestly instead of guessing (see docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any

from ..errors import ProbeError, ProbeTimeout
from ..store.samples import Reading
from .clients import SharedClients, require


class AmqpTarget:
    """One AMQP connection, used only from its own thread (pika is not thread-safe)."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"amqp-{name}")
        self.connection: Any = None

    def declare(self, queue: str, timeout: float) -> tuple[int, int]:
        """(ready, consumers) of a queue; runs on this target's thread within `timeout`."""
        future = self.executor.submit(self._declare, queue, timeout)
        try:
            return future.result(timeout)
        except FutureTimeout:
            self.abort()
            raise ProbeTimeout(f"RabbitMQ connection '{self.name}' did not answer within {timeout:g}s") from None

    def _declare(self, queue: str, timeout: float) -> tuple[int, int]:
        pika = require("pika", "rabbitmq")
        # pika logs every connection the broker closes (a missing queue, shutdown) at ERROR with a
        # stack trace; the probe reports the failure as its outcome, once, without credentials.
        logging.getLogger("pika").setLevel(logging.CRITICAL)
        if self.connection is None or not self.connection.is_open:
            params = pika.URLParameters(self.url)
            params.connection_attempts = 1
            params.socket_timeout = timeout
            params.stack_timeout = timeout
            self.connection = pika.BlockingConnection(params)
        channel = self.connection.channel()
        try:
            ok = channel.queue_declare(queue, passive=True)
        finally:
            if channel.is_open:
                channel.close()
        return int(ok.method.message_count), int(ok.method.consumer_count)

    def abort(self) -> None:
        # A broker that stopped answering leaves the worker blocked in select(); shutting the
        # socket down from here wakes it with an error, so no thread is left hanging.
        connection = self.connection
        sock = getattr(getattr(getattr(connection, "_impl", None), "_transport", None), "_sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.abort()
        connection = self.connection
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):
                self.executor.submit(connection.close).result(1)
        self.executor.shutdown(wait=False, cancel_futures=True)


class RabbitmqProbe:
    """Ready messages or consumers of one queue."""

    kind = "rabbitmq"

    def __init__(self, clients: SharedClients, connection: str, url: str, queue: str, measure: str, timeout: float):
        self._clients = clients
        self._key = ("amqp", connection)
        self._connection = connection
        self._url = url
        self._queue = queue
        self._measure = measure
        self._timeout = timeout

    def run(self, now: datetime) -> list[Reading]:
        target = self._clients.get(self._key, lambda: AmqpTarget(self._url, self._connection), AmqpTarget.close)
        try:
            ready, consumers = target.declare(self._queue, self._timeout)
        except ProbeError:
            self._clients.discard(self._key)
            raise
        except Exception as exc:
            self._clients.discard(self._key)
            raise _mapped(exc, self._queue, self._connection) from None
        return [Reading(float(ready if self._measure == "ready" else consumers))]

    def close(self) -> None:
        """The connection belongs to the shared clients, which close it."""


def _mapped(exc: Exception, queue: str, connection: str) -> ProbeError:
    reply = getattr(exc, "reply_code", None)
    if reply == 404:
        return ProbeError(f"queue '{queue}' does not exist on RabbitMQ connection '{connection}'")
    if reply == 403:
        return ProbeError(f"access to queue '{queue}' refused on RabbitMQ connection '{connection}'")
    name = type(exc).__name__
    if "Timeout" in name:
        return ProbeTimeout(f"RabbitMQ connection '{connection}' did not answer in time ({name})")
    # pika messages can quote the host and credentials; the class name is enough to act on.
    return ProbeError(f"RabbitMQ connection '{connection}' failed: {name}")
