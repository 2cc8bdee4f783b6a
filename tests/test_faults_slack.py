"""Slack down for ten minutes, then answering 429: every notification arrives once, in order per incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.notify.delivery import OutboxWorker
from flowhealth.notify.slack import SlackNotifier
from tests.support.alerting import make_rig
from tests.support.faults import (
    PUSHED,
    THRESHOLD,
    delivered_in_order,
    outbox,
    posting_keys,
    pushed_flows,
    pushed_rules,
    replies_follow_parents,
    slack_keys,
)
from tests.support.models import write_model
from tests.support.slack_server import SlackServer


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts"}) as server:
        yield server


def test_outage_then_rate_limits_deliver_every_message_once_in_order(
    tmp_path: Path, clock: FakeClock, slack: SlackServer
) -> None:
    rig = make_rig(write_model(tmp_path / "m", pushed_flows(), pushed_rules()), tmp_path, clock)
    worker = OutboxWorker(
        rig.engine,
        SlackNotifier.from_token(slack.token, slack.base_url, timeout=5),
        clock,
        Metrics(CollectorRegistry()),
        pacing_clock=clock.monotonic,  # the one-per-second pacing moves with the test's clock
    )
    slack.slack.down = True
    # Three incidents open, one resolves and fires again, while Slack is down for ten minutes.
    for flow in PUSHED:
        rig.observe(flow, "backlog", THRESHOLD * 2)
    rig.tick()
    rig.observe("f1", "backlog", 0)
    rig.tick()
    rig.observe("f1", "backlog", THRESHOLD * 3)
    rig.tick()
    for _ in range(20):
        assert worker.run_once().delivered == 0
        clock.advance(30)
    assert slack.slack.messages == []
    queued = outbox(rig.engine)
    assert len(queued) >= 5

    slack.slack.down = False
    slack.slack.failures.extend([("429", 3)] * 6)  # then rate limited for a while
    for _ in range(80):
        worker.run_once()
        clock.advance(timedelta(seconds=2))
        if all(r.delivered_at is not None for r in outbox(rig.engine)):
            break
    rows = outbox(rig.engine)
    assert all(r.delivered_at is not None for r in rows), "a notification was never delivered"
    sent = slack_keys(slack.slack)
    assert [key for key, n in sent.items() if n > 1] == []
    assert posting_keys(rows) <= set(sent)
    assert not slack.slack.failures, "the rate limits were exercised"
    assert replies_follow_parents(slack.slack)
    assert delivered_in_order(rows)
    # Per incident, Slack saw the messages in the order they were queued.
    order = {m.metadata["event_payload"]["dedup_key"]: i for i, m in enumerate(slack.slack.messages) if m.metadata}
    for thread in {r.thread_key for r in rows}:
        positions = [order[r.dedup_key] for r in rows if r.thread_key == thread and r.dedup_key in order]
        assert positions == sorted(positions), f"thread {thread} out of order"
