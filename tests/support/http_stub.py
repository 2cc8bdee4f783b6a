"""A threaded local HTTP server around a handler function, for protocol stand-ins (PagerDuty, Teams, webhooks)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (method, path, headers, body) -> (status, headers, body)
Handler = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Run `handler` on 127.0.0.1 and an ephemeral port; yields the base URL."""

    class _Request(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, out = handler(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            if status == 0:  # drop the connection without an answer
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_POST = _answer
        do_GET = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Request)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
