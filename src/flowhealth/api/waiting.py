"""A stand-in for the API while `serve` waits for its database: `/healthz` answers 503 degraded
(so orchestrators see the process alive but not ready), everything else 503 with the reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAITING = {"status": "degraded", "database": "unreachable: waiting for the database", "scheduler": "stopped"}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = WAITING if self.path.split("?")[0] == "/healthz" else {"detail": "starting: waiting for the database"}
        data = json.dumps(body).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Retry-After", "5")
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args: Any) -> None:
        pass  # probes of /healthz every few seconds would flood the log


@contextmanager
def degraded_healthz(host: str, port: int) -> Iterator[None]:
    """Answer on host:port until the block ends; then the real API takes the port over."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="degraded-healthz", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
