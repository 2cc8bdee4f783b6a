"""Broker and HTTP clients shared by every probe of one target, and lazy optional imports."""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any, TypeVar

from ..errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


def require(module: str, extra: str) -> ModuleType:
    """Import an optional client library, or say exactly what to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise ConfigError(f"the {extra} probe needs {module}: pip install 'flowhealth[{extra}]'") from None


class SharedClients:
    """One client per target key, built on first use and rebuilt after it was discarded."""

    def __init__(self) -> None:
        self._clients: dict[Hashable, tuple[Any, Callable[[Any], None]]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def lock(self, key: Hashable) -> threading.Lock:
        """A lock for clients that are not thread-safe (one AMQP connection, say)."""
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: Hashable, build: Callable[[], T], close: Callable[[T], None]) -> T:
        with self._lock:
            if key in self._clients:
                client: T = self._clients[key][0]
                return client
        # Built outside the lock: a slow target must not block probes of other targets.
        client = build()
        with self._lock:
            if key in self._clients:
                _quietly(close, client)
                existing: T = self._clients[key][0]
                return existing
            self._clients[key] = (client, close)
            return client

    def discard(self, key: Hashable) -> None:
        """Close and forget a client after an error, so the next run reconnects."""
        with self._lock:
            entry = self._clients.pop(key, None)
        if entry is not None:
            _quietly(entry[1], entry[0])

    def close(self) -> None:
        with self._lock:
            entries = list(self._clients.values())
            self._clients.clear()
        # Newest first: clients built on a shared loop close before the loop does.
        for client, close in reversed(entries):
            _quietly(close, client)


def _quietly(close: Callable[[Any], None], client: Any) -> None:
    # Closing a broken connection often raises; it is being thrown away either way.
    with contextlib.suppress(Exception):
        close(client)
