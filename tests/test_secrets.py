"""Secrets never leave: canaries in every secret flowhealth holds, searched for everywhere it speaks.

A real `flowhealth serve` runs with a database password, a partner API token, the API token and
the Slack token, all canaries. Probes fail (the database is unreachable; the partner API echoes
the token back in its error), requests fail, an alert fires and goes to Slack. Then every place a
secret could leak is searched: the process's logs, /metrics, the API's answers, the Slack
messages, and the CLI's output.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from tests.support.models import ORDERS_FLOW, write_model
from tests.support.service import ServeProcess
from tests.support.slack_server import SlackServer
from tests.support.waiting import wait_until

CANARIES = {
    "SHOP_DB_PASSWORD": "canary-db-7f3a9e",
    "PARTNER_TOKEN": "canary-partner-51c0d2",
    "FLOWHEALTH_API_TOKEN": "canary-api-88e1b7",
    "SLACK_BOT_TOKEN": "xoxb-canary-slack-3d9f",
}

FLOWS = (
    """
connections:
  shop_db:
    url: "postgresql://flowhealth:${SHOP_DB_PASSWORD}@127.0.0.1:1/shop"
"""
    + ORDERS_FLOW
    + """      delay:
        kind: delay
        description: Oldest order not exported.
        probe: {kind: push}
      db_backlog:
        kind: depth
        description: Orders waiting, from the shop database.
        probe: {kind: sql, connection: shop_db, query: "SELECT 1", interval: 1s, timeout: 500ms}
      partner_backlog:
        kind: depth
        description: Orders waiting at the partner.
        probe:
          kind: http
          url: "PARTNER_URL"
          headers: {Authorization: "Bearer ${PARTNER_TOKEN}"}
          path: backlog
          interval: 1s
          timeout: 500ms
"""
)

RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 60
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
"""


class _EchoingPartner(BaseHTTPRequestHandler):
    """A partner API that answers 401 and, carelessly, repeats the credentials it was sent."""

    def do_GET(self) -> None:
        body = json.dumps({"error": f"token rejected: {self.headers.get('Authorization')}"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def partner() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingPartner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/backlog"
    server.shutdown()
    server.server_close()


def failed_runs(metrics: str, signal: str) -> float:
    """Runs of a probe that ended in error or invalid, from the /metrics text."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("flowhealth_probe_runs_total{")
        and f'signal="{signal}"' in line
        and ('outcome="error"' in line or 'outcome="invalid"' in line)
    )


def leaks(text: str) -> list[str]:
    return [name for name, value in CANARIES.items() if value in text]


def test_no_secret_leaves_the_process(tmp_path: Path, partner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = tmp_path / "model"
    write_model(model_dir, FLOWS.replace("PARTNER_URL", partner), RULES)
    with SlackServer({"C0SHOP": "shop-alerts"}, token=CANARIES["SLACK_BOT_TOKEN"]) as slack:
        env = {
            **CANARIES,
            "FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
            "FLOWHEALTH_SLACK_BASE_URL": slack.base_url,
            "FLOWHEALTH_EVALUATION_INTERVAL": "0.5",
            "FLOWHEALTH_DELIVERY_INTERVAL": "0.2",
        }
        service = ServeProcess(model_dir, env, tmp_path / "serve.log")
        service.start()
        stack = contextlib.ExitStack()
        try:
            api = httpx.Client(base_url=service.url, timeout=5)
            stack.callback(api.close)
            token = {"Authorization": f"Bearer {CANARIES['FLOWHEALTH_API_TOKEN']}"}
            answers = [
                api.post("/api/v1/flows/orders/signals/delay", json={"value": 900}, headers=token),
                api.post(
                    "/api/v1/flows/orders/signals/delay", json={"value": 900}, headers={"Authorization": "Bearer wrong"}
                ),
                api.post("/api/v1/flows/orders/signals/delay", content=b"{not json", headers=token),
            ]
            assert [a.status_code for a in answers] == [201, 401, 422] or answers[0].is_success
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not slack.slack.top_level("#shop-alerts"):
                time.sleep(0.2)
            assert slack.slack.top_level("#shop-alerts"), "the alert never reached Slack: " + service.log()[-2000:]
            # The alert now reaches Slack as the push arrives, before a probe may have run: wait for
            # both probes to have failed against their targets (their series exist at 0 from the start).
            wait_until(
                lambda: "probe orders/db_backlog" in service.log() and "probe orders/partner_backlog" in service.log(),
                20,
                "both probes to fail and be logged",
            )
            metrics = api.get("/metrics").text
            assert failed_runs(metrics, "db_backlog") > 0  # the failures really happened, and were counted
            pages = [
                api.get(path).text for path in ("/api/v1/flows", "/api/v1/incidents", "/api/v1/board", "/", "/healthz")
            ]
        finally:
            stack.close()
            service.stop()
        sent_to_slack = json.dumps([(m.text, m.blocks) for m in slack.slack.messages])
    log = service.log()
    assert "probe orders/partner_backlog" in log and "probe orders/db_backlog" in log  # the failures were logged...
    assert leaks(log) == []  # ...without the secrets
    assert leaks(metrics) == []
    assert leaks("\n".join(a.text for a in answers)) == []
    assert leaks("\n".join(pages)) == []
    assert leaks(sent_to_slack) == []
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    cli = CliRunner().invoke(app, ["probe", "run", "orders", "--model-dir", str(model_dir)])
    assert cli.exit_code == 1 and "partner_backlog" in cli.output
    assert leaks(cli.output) == []
