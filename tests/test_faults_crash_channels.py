"""kill -9 of a real `flowhealth serve` while PagerDuty and a webhook receiver are slow or unreachable, then restart.

What each receiver got is counted after the restart: one PagerDuty alert per incident (a trigger
repeated after the crash carries the same dedup_key, so PagerDuty appends to the alert it already
has instead of paging again), each webhook message once (its idempotency key lets the receiver
drop a repeat), nothing lost, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from flowhealth.store.db import make_engine
from tests.support import waiting
from tests.support.faults import SLACK_TOKEN, THRESHOLD, TOKEN, outbox, pushed_flows, pushed_rules, serve_env
from tests.support.http_stub import serve
from tests.support.models import write_model
from tests.support.pagerduty_server import FakePagerDuty
from tests.support.service import ServeProcess
from tests.support.slack_server import SlackServer
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOOK_SECRET = "crash-hook-secret"
RECEIVERS = """\
    receivers:
      pager: {kind: pagerduty, routing_key: "${PD_SHOP_KEY}", severities: [critical]}
      hook: {kind: webhook, url: "${SHOP_HOOK_URL}", secret: "${SHOP_HOOK_SECRET}"}
"""
INCIDENT = "flowhealth:shop-team:incident:1"


@dataclass
class Stack:
    service: ServeProcess
    pagerduty: FakePagerDuty
    hook: WebhookReceiver
    engine: Engine

    def push(self, value: float) -> None:
        answer = httpx.post(
            f"{self.service.url}/api/v1/flows/f1/signals/backlog", json={"value": value}, headers=AUTH, timeout=10
        )
        assert answer.status_code == 202, answer.text

    def settled(self) -> bool:
        rows = outbox(self.engine)
        return bool(rows) and all(r.delivered_at is not None for r in rows)


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    model_dir = tmp_path / "model"
    write_model(model_dir, pushed_flows(), pushed_rules())
    teams = model_dir / "flows" / "teams.yaml"
    teams.write_text(
        teams.read_text().replace('    oncall: "@shop-oncall"\n', '    oncall: "@shop-oncall"\n' + RECEIVERS)
    )
    pagerduty, hook = FakePagerDuty(), WebhookReceiver(HOOK_SECRET)
    with (
        SlackServer({"C1": "shop-alerts"}, token=SLACK_TOKEN) as slack,
        serve(pagerduty.handle) as pd_url,
        serve(hook.handle) as hook_url,
    ):
        env = serve_env(
            database_url,
            slack.base_url,
            FLOWHEALTH_PAGERDUTY_EVENTS_URL=pd_url,
            PD_SHOP_KEY="R0UT1NGKEY0123456789abcdefABCDEF",
            SHOP_HOOK_URL=f"{hook_url}/flowhealth",
            SHOP_HOOK_SECRET=HOOK_SECRET,
        )
        process = ServeProcess(model_dir, env, tmp_path / "serve.log")
        engine = make_engine(database_url)
        try:
            yield Stack(process, pagerduty, hook, engine)
        finally:
            process.stop()
            engine.dispose()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, stack: Stack) -> None:
    """The shared polling loop; a timeout shows the end of the service's log."""
    try:
        waiting.wait_until(condition, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {stack.service.log()[-1500:]}") from None


def test_kill_9_while_pagerduty_answers_slowly_pages_once(stack: Stack) -> None:
    s = stack
    s.service.start()
    s.pagerduty.delay = 4.0  # PagerDuty takes the trigger, flowhealth dies before it hears back
    s.push(THRESHOLD * 3)
    wait_until(lambda: bool(s.pagerduty.accepted), 30, "a PagerDuty trigger in flight", s)
    s.service.kill9()
    s.pagerduty.delay = 0.0
    s.service.start()
    wait_until(s.settled, 40, "every notification delivered after the restart", s)
    assert s.pagerduty.incidents_opened == 1, "the incident paged twice"
    # The crash left the trigger "maybe sent": it went again, and PagerDuty appended it to the same alert.
    assert s.pagerduty.actions(INCIDENT) == ["trigger", "trigger"]

    s.push(0)
    wait_until(lambda: s.pagerduty.alerts[INCIDENT].status == "resolved", 30, "the resolve in PagerDuty", s)
    wait_until(s.settled, 30, "every notification delivered", s)
    assert s.pagerduty.incidents_opened == 1 and s.pagerduty.actions(INCIDENT)[-1] == "resolve"
    assert [b["status"] for b in s.hook.bodies] == ["firing", "resolved"]  # once each, in order
    assert not s.pagerduty.rejected and not s.hook.refused


def test_kill_9_while_the_receivers_are_unreachable_delivers_once_after_the_restart(stack: Stack) -> None:
    s = stack
    s.service.start()
    s.pagerduty.down = s.hook.down = True
    s.push(THRESHOLD * 3)

    def tried_and_failed() -> bool:
        rows = [r for r in outbox(s.engine) if r.receiver != "slack"]
        return len(rows) == 2 and all(r.attempts >= 1 and r.last_error for r in rows)

    wait_until(tried_and_failed, 30, "both receivers tried and failed", s)
    s.service.kill9()
    s.pagerduty.down = s.hook.down = False
    s.service.start()
    wait_until(s.settled, 60, "every notification delivered after the restart", s)
    assert s.pagerduty.incidents_opened == 1 and s.pagerduty.actions(INCIDENT) == ["trigger"]
    assert [b["status"] for b in s.hook.bodies] == ["firing"] and s.hook.duplicates == 0
