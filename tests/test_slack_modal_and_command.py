"""Silence… modal, replayed clicks and the /flowhealth command, end to end with real signatures.

flowhealth runs its real HTTP server; Slack's Web API (views.open) and the clicker's
response_url are local servers; every request is signed with the test signing secret.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.alerting_model import write_alerting_model
from tests.support.otlp import serve
from tests.support.response_url import ResponseUrl
from tests.support.slack_server import SlackServer
from tests.test_slack_interactions import SECRET, fire, incident, signed


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C0SHOP": "shop-alerts"}) as server:
        yield server


@pytest.fixture
def clicker() -> Iterator[ResponseUrl]:
    server = ResponseUrl()
    yield server
    server.close()


@pytest.fixture
def runtime(tmp_path: Path, slack: SlackServer) -> Runtime:
    settings = Settings(  # type: ignore[call-arg]  # the Slack fields are read by their environment names
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        slack_signing_secret=SecretStr(SECRET),
        SLACK_BOT_TOKEN=SecretStr(slack.token),
        FLOWHEALTH_SLACK_BASE_URL=slack.base_url,
    )
    model = write_alerting_model(tmp_path / "m")
    return Runtime.build(settings, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})


def interaction(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def press(action_id: str, clicker: ResponseUrl, *, action_ts: str = "1700000000.000100", trigger: str = "T-1") -> bytes:
    return interaction(
        {
            "type": "block_actions",
            "trigger_id": trigger,
            "user": {"id": "U123"},
            "response_url": clicker.url,
            "actions": [{"action_id": action_id, "value": "1", "action_ts": action_ts}],
        }
    )


def post(base: str, path: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{base}{path}", content=body, headers=signed(body), timeout=3)


def replies(clicker: ResponseUrl, count: int) -> list[str]:
    return [clicker.received.get(timeout=10)["text"] for _ in range(count)]


def no_more(clicker: ResponseUrl) -> None:
    with pytest.raises(queue.Empty):
        clicker.received.get(timeout=1)


def test_silence_button_opens_a_prefilled_modal_and_its_submission_silences(
    runtime: Runtime, slack: SlackServer, clicker: ResponseUrl
) -> None:
    fire(runtime)
    with serve(runtime) as base:
        assert post(base, "/slack/interactions", press("flowhealth_silence_custom", clicker)).status_code == 200
        for _ in range(100):
            if slack.slack.views:
                break
            httpx.get(f"{base}/healthz")
        [view] = slack.slack.views
        matchers = view["blocks"][1]["element"]["initial_value"]
        assert matchers.splitlines() == ["flow=orders", "team=shop-team"]
        # The person sets a duration and a reason and submits.
        values = {
            "duration": {"value": {"type": "plain_text_input", "value": "90m"}},
            "matchers": {"value": {"type": "plain_text_input", "value": matchers}},
            "reason": {"value": {"type": "plain_text_input", "value": "ERP <!channel> maintenance"}},
        }
        submit = interaction(
            {
                "type": "view_submission",
                "trigger_id": "T-2",
                "user": {"id": "U123"},
                "view": {**view, "state": {"values": values}},
            }
        )
        answer = post(base, "/slack/interactions", submit)
        assert answer.status_code == 200 and answer.content == b""  # closes the modal
        # Slack retries the same submission: applied once.
        assert post(base, "/slack/interactions", submit).status_code == 200
        [text] = replies(clicker, 1)
        no_more(clicker)
    assert text.startswith("You silenced incident #1 until")
    [silence] = runtime.actions.list_silences()
    assert json.loads(silence.matchers) == {"flow": "orders", "team": "shop-team"}
    assert (silence.ends_at - runtime.clock.now()).total_seconds() == 90 * 60
    assert silence.author == "<@U123>"


def test_a_bad_duration_keeps_the_modal_open_with_the_reason_under_the_field(runtime: Runtime) -> None:
    fire(runtime)
    view = {
        "callback_id": "flowhealth_silence_modal",
        "private_metadata": json.dumps({"incident": 1, "response_url": None}),
        "state": {
            "values": {
                "duration": {"value": {"value": "soon"}},
                "matchers": {"value": {"value": "team=shop-team"}},
                "reason": {"value": {"value": ""}},
            }
        },
    }
    body = interaction({"type": "view_submission", "trigger_id": "T-3", "user": {"id": "U1"}, "view": view})
    with serve(runtime) as base:
        answer = post(base, "/slack/interactions", body)
    assert answer.json()["response_action"] == "errors"
    assert set(answer.json()["errors"]) == {"duration", "reason"}
    assert "30s, 5m" in answer.json()["errors"]["duration"]
    assert runtime.actions.list_silences() == []


def test_a_replayed_click_applies_once_and_a_second_resolve_says_it_is_resolved(
    runtime: Runtime, clicker: ResponseUrl
) -> None:
    fire(runtime)
    with serve(runtime) as base:
        ack = press("flowhealth_ack", clicker, action_ts="1.1")
        assert post(base, "/slack/interactions", ack).status_code == 200
        assert post(base, "/slack/interactions", ack).status_code == 200  # replayed within 5 minutes
        [acked] = replies(clicker, 1)
        no_more(clicker)
        post(base, "/slack/interactions", press("flowhealth_resolve", clicker, action_ts="1.2"))
        post(base, "/slack/interactions", press("flowhealth_resolve", clicker, action_ts="1.3"))  # a second person
        resolved, again = replies(clicker, 2)
    assert acked.startswith("You acknowledged incident #1")
    assert resolved == "You resolved incident #1."
    assert again == "Incident #1 is resolved: nothing to change."
    assert incident(runtime)["resolved_by"] == "<@U123>"


def command(text: str, clicker: ResponseUrl, trigger: str = "T-9") -> bytes:
    form = {
        "command": "/flowhealth",
        "text": text,
        "user_id": "U777",
        "response_url": clicker.url,
        "trigger_id": trigger,
    }
    return urlencode(form).encode()


def test_the_slash_command_answers_within_3_seconds_and_acts(runtime: Runtime, clicker: ResponseUrl) -> None:
    fire(runtime)
    with serve(runtime) as base:
        usage = post(base, "/slack/commands", command("hello", clicker))
        assert usage.json()["response_type"] == "ephemeral" and "/flowhealth ack N" in usage.json()["text"]
        bad = post(base, "/slack/commands", command("silence 1 soon coffee", clicker, "T-a")).json()
        assert "not a duration" in bad["text"]
        assert post(base, "/slack/commands", command("incidents", clicker, "T-b")).status_code == 200
        [listed] = replies(clicker, 1)
        assert listed.startswith("#1 ")
        assert post(base, "/slack/commands", command("ack 1", clicker, "T-c")).status_code == 200
        assert post(base, "/slack/commands", command("ack 1", clicker, "T-c")).status_code == 200  # Slack's retry
        [acked] = replies(clicker, 1)
        post(base, "/slack/commands", command("silence #1 2h ERP patching", clicker, "T-d"))
        [silenced] = replies(clicker, 1)
        post(base, "/slack/commands", command("status", clicker, "T-e"))
        [status] = replies(clicker, 1)
        no_more(clicker)
        unsigned = httpx.post(f"{base}/slack/commands", content=command("ack 1", clicker, "T-f"))
    assert unsigned.status_code == 401
    assert acked.startswith("You acknowledged incident #1")
    assert silenced.startswith("You silenced incident #1")
    assert status == "1 open incident(s), 1 acknowledged; 1 active silence(s)."
    assert incident(runtime)["acked_by"] == "<@U777>"
    [silence] = runtime.actions.list_silences()
    assert silence.reason == "ERP patching"
