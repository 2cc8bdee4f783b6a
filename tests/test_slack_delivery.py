"""Slack delivery that never gets stuck: deleted messages, 429s per channel, history that cannot be read, escaping.

Driven through the real outbox worker and SlackNotifier against the strict local Slack Web API
server; assertions are about what a person sees in the channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.notify.delivery import OutboxWorker
from flowhealth.notify.slack import SlackNotifier
from flowhealth.store.samples import Reading
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import write_alerting_model
from tests.support.faults import outbox, slack_keys
from tests.support.slack_server import SlackServer


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts", "C2": "erp-alerts", "C3": "leads", "C4": "finance-alerts"}) as server:
        yield server


@pytest.fixture
def rig(tmp_path: Path, clock: FakeClock) -> Rig:
    return make_rig(write_alerting_model(tmp_path / "m"), tmp_path, clock)


def worker_for(rig: Rig, slack: SlackServer) -> OutboxWorker:
    return OutboxWorker(
        rig.engine,
        SlackNotifier.from_token(slack.token, slack.base_url, timeout=5),
        rig.clock,
        Metrics(CollectorRegistry()),
        pacing_clock=rig.clock.monotonic,
    )


def drain(rig: Rig, worker: OutboxWorker, passes: int = 30, step: float = 2.0) -> None:
    for _ in range(passes):
        worker.run_once()
        if all(r.delivered_at is not None for r in outbox(rig.engine)):
            return
        rig.clock.advance(step)


def test_a_deleted_message_does_not_block_the_incident(rig: Rig, slack: SlackServer) -> None:
    worker = worker_for(rig, slack)
    rig.observe("orders", "delay", 1800)
    rig.tick()
    drain(rig, worker)
    [first] = slack.slack.top_level("#shop-alerts")
    slack.slack.delete(first.ts)  # someone deletes the bot's message

    rig.observe("orders", "delay", 60)  # the incident resolves
    rig.tick()
    drain(rig, worker)
    assert all(r.delivered_at is not None for r in outbox(rig.engine)), "the resolve is stuck"
    [anchor] = slack.slack.top_level("#shop-alerts")
    assert anchor.text.startswith("[RESOLVED]")
    notes = [m.text for m in slack.slack.replies(anchor.ts)]
    assert any("the previous one could not be edited (message_not_found)" in n for n in notes)


def test_after_a_429_the_post_arrives_once_and_the_channel_waits(rig: Rig, slack: SlackServer) -> None:
    worker = worker_for(rig, slack)
    slack.slack.failures.append(("429", 3))
    rig.observe("orders", "delay", 1800)
    rig.observe("orders", "depth", 500)
    rig.tick()
    worker.run_once()  # the post is refused with Retry-After: 3
    assert slack.slack.messages == []
    rig.clock.advance(1)
    worker.run_once()
    assert slack.slack.messages == [], "a message went to the channel before Retry-After passed"
    drain(rig, worker)
    assert [n for n in slack_keys(slack.slack).values() if n > 1] == []
    history_reads = [m for m, _ in slack.slack.calls if m == "conversations.history"]
    assert history_reads == [], "a plain 429 means Slack did not take the post: no need to look"
    assert len(slack.slack.top_level("#shop-alerts")) == 1


def test_an_ambiguous_failure_in_a_private_channel_without_history_scope_still_posts(
    rig: Rig, slack: SlackServer
) -> None:
    slack.slack.private.add("C1")
    slack.slack.history_scope = False
    slack.slack.failures.append(("500", "chat.postMessage"))
    worker = worker_for(rig, slack)
    rig.observe("orders", "delay", 1800)
    rig.tick()
    drain(rig, worker)
    assert len(slack.slack.top_level("#shop-alerts")) == 1, "the incident was never posted"


def test_values_from_data_cannot_ping_or_disguise_links(rig: Rig, slack: SlackServer) -> None:
    worker = worker_for(rig, slack)
    rig.observe_many("orders", "rejected", [Reading(60, {"reason": "<!channel> <https://phish.example|Open runbook>"})])
    rig.tick()
    drain(rig, worker)
    texts = [
        block["text"]["text"]
        for m in slack.slack.messages
        for block in m.blocks
        if block.get("type") == "section" and "text" in block
    ] + [m.text for m in slack.slack.messages]
    shown = "\n".join(texts)
    assert "<!channel>" not in shown
    assert "<https://phish.example" not in shown
    assert "&lt;!channel&gt;" in shown


def test_evidence_cannot_break_out_of_its_code_block() -> None:
    from flowhealth.alerting.notices import EvidenceTable
    from flowhealth.notify.blocks import MAX_TEXT, evidence_block

    table = EvidenceTable(
        columns=["order", "note"], rows=[["o-1", "```<!here>"]] + [[f"o-{i}", "x" * 200] for i in range(40)]
    )
    block = evidence_block(table, "Evidence")
    assert block is not None
    text = block["text"]["text"]
    assert text.count("```") == 2 and "<!here>" not in text
    assert len(text) <= MAX_TEXT
    assert "more rows_" in text


def test_a_new_failure_in_an_acknowledged_incident_calls_the_oncall_again(rig: Rig, slack: SlackServer) -> None:
    worker = worker_for(rig, slack)
    rig.observe("orders", "delay", 1800)
    rig.tick()
    drain(rig, worker)
    rig.actions.ack("#1", "carol")
    rig.tick()
    drain(rig, worker)
    rig.observe("orders", "depth", 500)  # another rule, another failure: the queue backs up
    rig.tick()
    drain(rig, worker)
    [anchor] = slack.slack.top_level("#shop-alerts")
    lines = [m.text for m in slack.slack.replies(anchor.ts)]
    assert any(
        "New failure while acknowledged by carol: orders-backlog" in line and "@shop-oncall" in line for line in lines
    )
    [incident] = rig.incidents()
    assert incident.acked_by is None, "the old ack does not cover the new failure"
    assert "Acknowledged by" not in anchor.text
    rig.actions.ack("#1", "dave")
    assert rig.incidents()[0].acked_by == "dave"


def test_a_second_acknowledgement_keeps_the_first_acker(rig: Rig) -> None:
    from flowhealth.alerting.actions import AlreadyDone

    rig.observe("orders", "delay", 1800)
    rig.tick()
    rig.actions.ack("#1", "carol")
    with pytest.raises(AlreadyDone, match="already acknowledged by carol"):
        rig.actions.ack("#1", "dave")
    assert rig.incidents()[0].acked_by == "carol"


def test_transient_failures_past_the_bound_become_dead_letters_that_can_be_replayed(
    rig: Rig, slack: SlackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from flowhealth.cli.main import app
    from flowhealth.notify.delivery import MAX_TRANSIENT_ATTEMPTS

    worker = worker_for(rig, slack)
    slack.slack.down = True
    rig.observe("orders", "delay", 1800)
    rig.tick()
    for _ in range(MAX_TRANSIENT_ATTEMPTS + 2):
        worker.run_once()
        rig.clock.advance(600)
    [row] = outbox(rig.engine)
    assert row.dead_lettered_at is not None and row.delivered_at is None

    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", str(rig.engine.url))
    runner = CliRunner()
    listed = runner.invoke(app, ["outbox", "list", "--json", "-m", str(tmp_path / "m")])
    assert listed.exit_code == 0, listed.output
    assert '"state": "dead letter"' in listed.output
    slack.slack.down = False
    replayed = runner.invoke(app, ["outbox", "replay", str(row.id), "-m", str(tmp_path / "m")])
    assert replayed.exit_code == 0, replayed.output
    # The CLI stamps real time; the rig's clock is in January: catch it up.
    rig.clock.advance(max(0.0, (datetime.now(UTC) - rig.clock.now()).total_seconds()) + 1)
    drain(rig, worker)
    assert len(slack.slack.top_level("#shop-alerts")) == 1
