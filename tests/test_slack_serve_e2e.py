"""Issue 14 end to end through a real `flowhealth serve` process and the strict local Slack server.

What a person sees in the channel, with nothing in-process: the incident is posted once after a
429, a label `<!channel>` reaches Slack escaped, a signed Acknowledge click (sent twice, as a
replay or a double click does) makes one thread line and an edited message, both clickers are told
the outcome through `response_url`, and after someone deletes the message the resolve still
reaches the channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.faults import SLACK_TOKEN, TOKEN, pushed_flows, pushed_rules, serve_env, slack_keys
from tests.support.models import write_model
from tests.support.response_url import ResponseUrl
from tests.support.service import ServeProcess
from tests.support.slack_server import Message, SlackServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
HOSTILE = "<!channel>"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts"}, token=SLACK_TOKEN) as server:
        yield server


@pytest.fixture
def clicker() -> Iterator[ResponseUrl]:
    server = ResponseUrl()
    yield server
    server.close()


@pytest.fixture
def service(tmp_path: Path, slack: SlackServer) -> Iterator[ServeProcess]:
    write_model(tmp_path / "model", pushed_flows(), pushed_rules())
    env = serve_env(f"sqlite:///{tmp_path / 'state.db'}", slack.base_url, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    process = ServeProcess(tmp_path / "model", env, tmp_path / "serve.log")
    try:
        yield process
    finally:
        process.stop()


def push(service: ServeProcess, value: float) -> None:
    answer = httpx.post(
        f"{service.url}/api/v1/flows/f1/signals/backlog",
        json={"value": value, "labels": {"queue": HOSTILE}},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def click(service: ServeProcess, user: str, action_ts: str, response_url: str) -> None:
    """A signed Acknowledge press on incident 1, as Slack sends it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "trigger_id": f"trigger-{action_ts}",
        "response_url": response_url,
        "actions": [{"action_id": "flowhealth_ack", "value": "1", "action_ts": action_ts}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    signature = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={signature}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = httpx.post(f"{service.url}/slack/interactions", content=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def channel(slack: SlackServer) -> list[Message]:
    with slack.slack.lock:
        return list(slack.slack.top_level("shop-alerts"))


def thread_lines(slack: SlackServer, ts: str) -> list[str]:
    with slack.slack.lock:
        return [m.text for m in slack.slack.replies(ts)]


def test_incident_click_and_deleted_message_through_flowhealth_serve(
    service: ServeProcess, slack: SlackServer, clicker: ResponseUrl
) -> None:
    slack.slack.failures.append(("429", 1))  # Slack does not take the first post: retry after a second
    service.start()
    push(service, 30)
    wait_until(lambda: channel(slack), 20, "the incident in the channel")
    [message] = channel(slack)
    assert message.text.startswith("[FIRING]")
    posts = [args for method, args in slack.slack.calls if method == "chat.postMessage"]
    assert len(posts) == 2 and not slack.slack.failures  # the 429, then the one post
    assert [key for key, n in slack_keys(slack.slack).items() if n > 1] == []
    shown = json.dumps(message.blocks)
    assert "&lt;!channel&gt;" in shown and HOSTILE not in shown  # the label is text; nobody was pinged

    # A replayed request (same action_ts) and a second person pressing Acknowledge at once.
    click(service, "U123", "1700000000.000100", clicker.url)
    click(service, "U123", "1700000000.000100", clicker.url)
    click(service, "U456", "1700000000.000200", clicker.url)
    first, second = sorted(clicker.received.get(timeout=15)["text"] for _ in range(2))
    assert first.startswith("Not applied: incident #1 is already acknowledged by <@U123> until ")
    assert second.startswith("You acknowledged incident #1 until ")
    wait_until(lambda: message.edits >= 1 and "Acknowledged by <@U123>" in json.dumps(message.blocks), 15, "the edit")
    wait_until(lambda: thread_lines(slack, message.ts), 15, "the acknowledgement in the thread")
    time.sleep(1.0)  # several delivery passes: a duplicate line would have arrived by now
    [ack_line] = thread_lines(slack, message.ts)
    assert "<@U123>" in ack_line and "<@U456>" not in ack_line
    assert clicker.received.empty()

    # Someone deletes the bot's message; the resolve must still reach the channel.
    slack.slack.delete(message.ts)
    push(service, 0)
    wait_until(lambda: any(m.text.startswith("[RESOLVED]") for m in channel(slack)), 20, "the resolve")
    [resolved] = channel(slack)
    assert "incident #1" in json.dumps(resolved.blocks)
    assert any("could not be edited (message_not_found)" in line for line in thread_lines(slack, resolved.ts))
    health = httpx.get(f"{service.url}/api/v1/outbox", timeout=10).json()
    assert health == [], f"messages still waiting: {health}"
