"""The weekly review counts every channel: delivered, not yet delivered, given up, and where people acknowledged.

Incidents are fired through the evaluator and delivered by the outbox worker to the local
PagerDuty, Teams, webhook and SMTP servers (the `channels` rig of test_notify_channels);
acknowledgements come from a Slack click's actor, PagerDuty, and the `flowhealth ack` command.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flowhealth.alerting.enums import ActionSource
from flowhealth.cli.main import app
from flowhealth.hypercare.report_html import render_html
from flowhealth.hypercare.report_md import render_markdown
from flowhealth.hypercare.review import build_review
from flowhealth.store.tables import IncidentEvent
from tests.test_notify_channels import Channels, channel_rig

runner = CliRunner()


@pytest.fixture
def channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    with channel_rig(tmp_path, monkeypatch) as rig:
        yield rig


def fire_and_clear(c: Channels) -> None:
    c.rig.observe("orders", "delay", 1800)
    c.rig.tick()
    c.deliver()


def clear(c: Channels) -> None:
    c.rig.observe("orders", "delay", 60)
    c.rig.tick()
    c.deliver()


def test_the_review_says_where_each_incident_was_acknowledged(
    channels: Channels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = channels
    fire_and_clear(c)
    c.rig.actions.ack("#1", "<@U024BE7LH>")  # what a Slack button press passes
    clear(c)
    fire_and_clear(c)
    c.rig.actions.ack("#2", "Jane Doe (PagerDuty)", source=ActionSource.PAGERDUTY)
    clear(c)
    fire_and_clear(c)
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", str(c.rig.engine.url))
    acked = runner.invoke(app, ["ack", "3", "--as", "bob", "-m", str(tmp_path / "m")])  # the rig's model and store
    assert acked.exit_code == 0, acked.output
    with Session(c.rig.engine) as session:
        sources = session.exec(
            select(IncidentEvent.source).where(IncidentEvent.event == "acked").order_by(col(IncidentEvent.id))
        ).all()
    assert sources == ["slack", "pagerduty", "cli"]

    # The command ran on the wall clock, the rig on its own: one review spans both.
    review = build_review(c.rig.model, c.rig.engine, datetime.now(UTC) + timedelta(minutes=1), timedelta(days=400))
    text = render_markdown(review)
    assert "by <@U024BE7LH> in Slack" in text
    assert "by Jane Doe (PagerDuty) in PagerDuty" in text
    assert "by bob in the CLI" in text
    assert "Acknowledged outside the channels: 1 in the CLI." in text
    assert "Acknowledged by Jane Doe (PagerDuty) in PagerDuty (until" in text  # the incident's timeline too
    assert "by bob in the CLI" in render_html(review)


def test_the_review_counts_what_each_channel_got_and_what_still_waits(channels: Channels) -> None:
    c = channels
    c.mailbox.refuse_with = "451 4.3.0 try again later"  # email is down all along
    fire_and_clear(c)
    c.rig.actions.ack("#1", "Jane Doe (PagerDuty)", source=ActionSource.PAGERDUTY)
    clear(c)
    review = build_review(c.rig.model, c.rig.engine, c.rig.clock.now() + timedelta(minutes=1), timedelta(days=7))
    [section] = [s for s in review.sections if s.title == "Channels"]
    rows = {row[0]: row[1:] for row in section.rows}
    # delivered, not yet delivered, given up, acknowledged there
    assert rows["PagerDuty"] == ["3", "0", "0", "1"]  # trigger, acknowledge, resolve
    assert rows["Microsoft Teams"] == ["3", "0", "0", "0"]
    assert rows["Webhook"] == ["3", "0", "0", "0"]
    assert rows["Email"] == ["0", "3", "0", "0"]
    assert rows["Slack"][0] == "3"
    assert "| Email | 0 | 3 | 0 | 0 |" in render_markdown(review)
