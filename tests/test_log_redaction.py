"""No secret reaches a log line, whichever library wrote it.

The canary runs a real `flowhealth serve -v` whose http probe carries secrets in its URL's query,
a header and its JSON body. The partner API checks that it received them (so the probe really
used them), httpx logs each request at INFO, and then the whole process log is searched.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from flowhealth.redaction import MASK, SecretFilter, install
from tests.support.models import ORDERS_FLOW, write_model
from tests.support.service import ServeProcess

CANARIES = {
    "QUERY_KEY": "canary-query/+&key",  # characters that URL encoding changes
    "HEADER_TOKEN": "canary-header-9c1f7e",
    "BODY_SECRET": "canary-body-40d2aa",
    "FLOWHEALTH_API_TOKEN": "canary-api-11b3c5",
    "SLACK_SIGNING_SECRET": "canary-signing-7de0f1",
}


def forms(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote(value)}


def leaks(text: str) -> list[str]:
    return [name for name, value in CANARIES.items() if any(form in text for form in forms(value))]


class _Partner(BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Partner.received.append(
            {"path": self.path, "token": self.headers.get("X-Api-Token", ""), "body": body.decode()}
        )
        answer = json.dumps({"backlog": 3}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def partner() -> Iterator[str]:
    _Partner.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Partner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


FLOWS = (
    ORDERS_FLOW
    + """      partner_backlog:
        kind: depth
        description: Orders waiting at the partner.
        probe:
          kind: http
          method: POST
          url: "PARTNER/backlog?key=${QUERY_KEY}"
          headers: {X-Api-Token: "${HEADER_TOKEN}"}
          json_body: {auth: {secret: "${BODY_SECRET}"}, scope: orders}
          path: backlog
          interval: 1s
          timeout: 900ms
"""
)


@pytest.mark.timeout(120)
def test_serve_verbose_logs_no_secret_of_an_http_probe(tmp_path: Path, partner: str) -> None:
    write_model(tmp_path / "model", FLOWS.replace("PARTNER", partner), runbooks=())
    # Library loggers speak only when asked: the canary needs httpx's and pika's own lines.
    env = {
        **CANARIES,
        "FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "FLOWHEALTH_LIBRARY_LOG_LEVEL": "INFO",
    }
    service = ServeProcess(tmp_path / "model", env, tmp_path / "serve.log")
    service.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_Partner.received) < 3:
            time.sleep(0.2)
    finally:
        service.stop()
    # The probe really sent every secret: in the query, the header and the body.
    request = _Partner.received[0]
    assert quote(CANARIES["QUERY_KEY"], safe="") in request["path"] or CANARIES["QUERY_KEY"] in request["path"]
    assert request["token"] == CANARIES["HEADER_TOKEN"]
    assert json.loads(request["body"])["auth"]["secret"] == CANARIES["BODY_SECRET"]
    log = service.log()
    assert "HTTP Request: POST" in log, log[-2000:]  # httpx's own request line was logged ...
    assert f"backlog?key={MASK}" in log  # ... with the key masked
    assert leaks(log) == [], log[-3000:]


LIBRARY_LOGGERS = ["httpx", "httpcore.http11", "urllib3.connectionpool", "pika.connection", "slack_sdk.web.base_client"]


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, SecretFilter]]:
    """A root handler like `serve` installs, with the filter on it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    secrets = SecretFilter()
    install(secrets)
    try:
        yield stream, secrets
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for other in root.handlers:
            other.removeFilter(secrets)


@pytest.mark.parametrize("name", LIBRARY_LOGGERS)
def test_every_library_logger_is_redacted(name: str, captured: tuple[io.StringIO, SecretFilter]) -> None:
    stream, secrets = captured
    secrets.add(CANARIES.values())
    logger = logging.getLogger(name)
    # Earlier tests in the same process may have quietened a library (serve does, for pika at
    # shutdown): this test is about the filter, so the logger must speak.
    saved = (logger.level, logger.propagate, logger.disabled)
    logger.setLevel(logging.DEBUG)
    logger.propagate, logger.disabled = True, False
    query = quote(CANARIES["QUERY_KEY"], safe="")
    logger.debug("request %s headers=%r", f"http://h/x?key={query}", {"X-Api-Token": CANARIES["HEADER_TOKEN"]})
    logger.info("body: " + json.dumps({"secret": CANARIES["BODY_SECRET"]}))
    try:
        raise ConnectionError(f"refused for {CANARIES['FLOWHEALTH_API_TOKEN']}")
    except ConnectionError:
        logger.exception("failed with signing secret %s", CANARIES["SLACK_SIGNING_SECRET"])
    text = stream.getvalue()
    logger.setLevel(saved[0])
    logger.propagate, logger.disabled = saved[1], saved[2]
    assert text.count(MASK) == 5, text
    assert "Traceback" in text and "ConnectionError" in text  # the exception is still shown
    assert leaks(text) == [], text


def test_short_values_are_not_secrets(captured: tuple[io.StringIO, SecretFilter]) -> None:
    stream, secrets = captured
    secrets.add(["on", "5432"])
    logging.getLogger("flowhealth.test").warning("connect on port 5432")
    assert stream.getvalue().strip() == f"flowhealth.test: connect on port {MASK}"
