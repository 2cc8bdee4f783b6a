"""How the HTTP server treats slow clients: header, body and idle timeouts, and a header size cap.

uvicorn bounds only the idle time between two requests on a kept-alive connection
(`timeout_keep_alive`) and the size of a request head while it is incomplete
(`h11_max_incomplete_event_size`: a 20 KB head arriving in one read passes).
A fresh connection that never completes its headers, or a body trickling in a byte at a time, is
held for ever: 200 such sockets ("slowloris") were held for 40 s in an attack. `BoundedH11Protocol`
adds the two missing timers, as nginx's `client_header_timeout` / `client_body_timeout` do:

* headers: a new connection must deliver a complete request head within `header_timeout`;
* body: once the head is in, the whole body must arrive within `body_timeout`;
* head size: a head over `max_header_bytes`, in pieces or at once, is answered 431 and closed.

Either timer closes the connection; the route, if it was reading the body, sees a disconnect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..settings import Settings

log = logging.getLogger(__name__)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head and for its body."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_header_bytes: int = 16 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_deadline: asyncio.TimerHandle | None = None
        # The first request's head; later ones are bounded by uvicorn's keep-alive timer, which
        # runs from the end of a response until the next head is complete.
        self._arm(self.header_timeout, "request headers")

    def handle_events(self) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large():
            return
        before = self.cycle
        super().handle_events()
        cycle = self.cycle
        if cycle is not None and cycle is not before:  # a request head arrived
            self._disarm()
            if cycle.more_body:
                self._arm(self.body_timeout, "request body")
        elif cycle is not None and not cycle.more_body:  # its body is complete
            self._disarm()

    def _head_too_large(self) -> bool:
        """A request head over the limit, whether it arrived in pieces or at once: 431 and close.

        (h11's own `max_incomplete_event_size` only applies while the head is incomplete.)
        """
        buffered, _ = self.conn.trailing_data
        end = buffered.find(b"\r\n\r\n")
        size = len(buffered) if end < 0 else end + 4
        if size <= self.max_header_bytes:
            return False
        body = f"the request head exceeds {self.max_header_bytes} bytes".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()
        self._disarm()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(seconds, self._too_slow, what, seconds)

    def _disarm(self) -> None:
        deadline = getattr(self, "_read_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._read_deadline = None

    def _too_slow(self, what: str, seconds: float) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.info("closing the connection of %s: %s not complete after %gs", client, what, seconds)
            self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options for the service: the bounded protocol and the configured limits."""
    protocol = type(
        "ConfiguredH11Protocol",
        (BoundedH11Protocol,),
        {
            "header_timeout": settings.http_header_timeout,
            "body_timeout": settings.http_body_timeout,
            "max_header_bytes": settings.http_max_header_bytes,
        },
    )
    return {
        "http": protocol,
        # uvicorn takes whole seconds here (and rounds nothing itself).
        "timeout_keep_alive": max(1, round(settings.http_idle_timeout)),
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
    }
