"""The daily email digest: once a day at the receiver's local time, through the outbox, to a real SMTP server.

Incidents are made by the evaluator from observed values, the digest is written by the same job
`serve` runs every minute, and delivered by the outbox worker to aiosmtpd (STARTTLS and login).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flowhealth.alerting.digest import due_slot, queue_digests
from flowhealth.alerting.routing import digest_routes
from flowhealth.cli.main import app
from flowhealth.clock import FakeClock
from flowhealth.errors import ModelError
from flowhealth.metrics import Metrics
from flowhealth.model import Model, load_model
from flowhealth.notify.console import ConsoleNotifier
from flowhealth.notify.delivery import OutboxWorker
from flowhealth.notify.fanout import Fanout
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import OutboxMessage
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import FLOWS, RULES
from tests.support.models import RUNBOOK
from tests.support.smtp_server import Mailbox, smtp_server

MONDAY_10_BERLIN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TUESDAY_0759_BERLIN = datetime(2026, 1, 6, 6, 59, tzinfo=UTC)  # Berlin is UTC+1 in January

DIGEST_RECEIVER = """\
    receivers:
      finance-mail:
        kind: email
        to: [shop-leads@example.com]
        from: flowhealth@example.com
        severities: [critical, warning]
        digest: true
        smtp:
          host: 127.0.0.1
          port: SMTP_PORT_VALUE
          username: ${SMTP_USER}
          password: ${SMTP_PASSWORD}
"""


def digest_model(root: Path, smtp_port: int, extra: str = "") -> Model:
    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    receiver = DIGEST_RECEIVER.replace("SMTP_PORT_VALUE", str(smtp_port)) + extra
    flows = FLOWS.replace(
        "    business_hours: {timezone: Europe/Berlin", receiver + "    business_hours: {timezone: Europe/Berlin", 1
    )
    (root / "flows" / "model.yaml").write_text(flows)
    (root / "alert_rules" / "rules.yaml").write_text(RULES)
    (root / "runbooks" / "rb.md").write_text(RUNBOOK.format(title="rb", team="shop-team"))
    return load_model(root)


@dataclass
class DigestRig:
    rig: Rig
    worker: OutboxWorker
    mailbox: Mailbox

    def at(self, when: datetime) -> None:
        self.rig.clock.set(when)

    def digest_job(self) -> list[str]:
        """What `serve` runs every minute: write due digests, then a delivery pass."""
        with transaction(self.rig.engine) as session:
            written = queue_digests(session, self.rig.model, self.rig.clock.now())
        self.worker.run_once()
        return written

    def digests(self) -> list[str]:
        return [m["Subject"] for m in self.mailbox.mails if "daily digest" in m["Subject"]]

    def waiting(self) -> list[OutboxMessage]:
        with Session(self.rig.engine) as session:
            return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None))).all())


@pytest.fixture
def digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_engine: Engine) -> Iterator[DigestRig]:
    with smtp_server(tmp_path) as (mailbox, port, ca_file):
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        model = digest_model(tmp_path / "m", port)
        rig = make_rig(model, tmp_path, FakeClock(MONDAY_10_BERLIN), engine=state_engine)
        environ = {"SMTP_USER": mailbox.username, "SMTP_PASSWORD": mailbox.password}
        fanout = Fanout(ConsoleNotifier(lambda _text: None), model, environ)
        worker = OutboxWorker(rig.engine, fanout, rig.clock, Metrics(CollectorRegistry()), pacing_clock=lambda: 0.0)
        yield DigestRig(rig, worker, mailbox)


def backlog_incident(d: DigestRig, minutes_open: float) -> None:
    """A warning incident (orders-backlog) that clears after `minutes_open`."""
    d.rig.observe("orders", "depth", 500)
    d.rig.tick()
    d.worker.run_once()
    d.rig.clock.advance(minutes_open * 60 - 30)
    d.rig.observe("orders", "depth", 10)
    d.rig.tick(30)
    d.worker.run_once()


def test_warnings_wait_for_the_morning_digest_and_arrive_once(digest: DigestRig) -> None:
    d = digest
    backlog_incident(d, minutes_open=25)
    assert d.mailbox.mails == []  # a warning is not mailed as it happens

    d.at(TUESDAY_0759_BERLIN)
    assert d.digest_job() == []  # 07:59 in Berlin: not yet
    d.rig.clock.advance(60)
    assert d.digest_job() == ["digest:shop-team/finance-mail:2026-01-06"]
    assert d.digests() == ["flowhealth daily digest for shop-team, Tue 06 Jan 2026: 1 incident, 0 still open"]
    [mail] = d.mailbox.mails
    assert mail["To"] == "shop-leads@example.com" and mail["Auto-Submitted"] == "auto-generated"
    plain = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Incidents of shop-team from Mon 05 Jan 08:00 to Tue 06 Jan 08:00 (Europe/Berlin):" in plain
    assert "#1 [warning]" in plain
    assert "opened Mon 05 Jan 10:00, resolved after 25m" in plain  # local time, not UTC
    assert "http://fh.test/incidents/1" in plain
    html = mail.get_body(("html",)).get_content()
    assert '<a href="http://fh.test/incidents/1">#1</a>' in html

    for _ in range(5):  # the job runs every minute; the day has its digest
        d.rig.clock.advance(60)
        d.digest_job()
    assert len(d.digests()) == 1


def test_an_unreachable_smtp_server_delays_the_digest_and_never_doubles_it(digest: DigestRig) -> None:
    d = digest
    backlog_incident(d, minutes_open=5)
    d.mailbox.refuse_with = "451 4.3.0 try again later"
    d.at(datetime(2026, 1, 6, 7, 0, tzinfo=UTC))
    d.digest_job()
    assert d.mailbox.mails == []
    [queued] = d.waiting()
    assert queued.receiver == "shop-team/finance-mail" and "451" in (queued.last_error or "")

    for _ in range(3):  # the server is still busy while the job keeps running
        d.rig.clock.advance(60)
        d.digest_job()
    d.mailbox.refuse_with = None
    d.rig.clock.advance(600)
    d.digest_job()
    assert len(d.digests()) == 1
    assert d.waiting() == []


def test_a_still_open_incident_is_in_every_digest(digest: DigestRig) -> None:
    d = digest
    d.rig.observe("orders", "depth", 500)
    d.rig.tick()
    for day in (6, 7):
        d.at(datetime(2026, 1, day, 6, 59, 30, tzinfo=UTC))
        d.rig.observe("orders", "depth", 500)  # still above: open for days
        d.rig.tick()
        d.digest_job()
    assert d.digests() == [
        "flowhealth daily digest for shop-team, Tue 06 Jan 2026: 1 incident, 1 still open",
        "flowhealth daily digest for shop-team, Wed 07 Jan 2026: 1 incident, 1 still open",
    ]
    assert "opened Mon 05 Jan 10:00, still open" in d.mailbox.mails[-1].get_body(("plain",)).get_content()


def test_a_critical_incident_is_mailed_at_once_and_left_out_of_the_digest(digest: DigestRig) -> None:
    d = digest
    d.rig.observe("orders", "delay", 1800)  # orders-late: critical
    d.rig.tick()
    d.worker.run_once()
    assert [m["Subject"][:22] for m in d.mailbox.mails] == ["[FIRING] flowhealth #1"]
    d.at(datetime(2026, 1, 6, 7, 0, tzinfo=UTC))
    assert d.digest_job() == []
    assert d.digests() == []


def test_weekend_incidents_reach_mondays_digest_of_a_business_hours_team(digest: DigestRig) -> None:
    d = digest
    d.at(datetime(2026, 1, 10, 11, 0, tzinfo=UTC))  # Saturday 12:00 in Berlin
    backlog_incident(d, minutes_open=10)
    d.at(datetime(2026, 1, 11, 7, 0, tzinfo=UTC))  # Sunday 08:00: not a business day
    assert d.digest_job() == []
    d.at(datetime(2026, 1, 12, 7, 0, tzinfo=UTC))  # Monday 08:00
    assert d.digest_job() == ["digest:shop-team/finance-mail:2026-01-12"]
    plain = d.mailbox.mails[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "from Fri 09 Jan 08:00 to Mon 12 Jan 08:00" in plain and "opened Sat 10 Jan 12:00" in plain


def test_a_quiet_day_sends_no_digest_and_the_next_one_reaches_back_to_the_last(digest: DigestRig) -> None:
    d = digest
    backlog_incident(d, minutes_open=5)
    d.at(datetime(2026, 1, 6, 7, 0, tzinfo=UTC))
    d.digest_job()
    d.at(datetime(2026, 1, 7, 7, 0, tzinfo=UTC))
    assert d.digest_job() == []  # nothing happened since Tuesday's digest
    assert len(d.digests()) == 1


def test_digest_time_and_zone_are_the_receivers_own(tmp_path: Path) -> None:
    model = digest_model(
        tmp_path / "m", 25, extra="        digest_at: '17:30'\n        digest_timezone: America/New_York\n"
    )
    team = model.teams["shop-team"]
    [route] = digest_routes("shop-team", team)

    def latest(at: datetime) -> datetime | None:
        due = due_slot(route, team, at)
        return due[0].until if due else None

    # Monday 17:29 in New York: not yet; the last digest was Friday's (the team works Mon-Fri).
    assert latest(datetime(2026, 1, 5, 22, 29, tzinfo=UTC)) == datetime(2026, 1, 2, 22, 30, tzinfo=UTC)
    assert latest(datetime(2026, 1, 5, 22, 30, tzinfo=UTC)) == datetime(2026, 1, 5, 22, 30, tzinfo=UTC)
    with pytest.raises(ModelError) as err:
        digest_model(tmp_path / "bad", 25, extra="        digest_timezone: Mars/Olympus\n")
    assert "unknown time zone 'Mars/Olympus'" in str(err.value)


def test_serve_writes_and_sends_the_digest_every_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(tmp_path) as (mailbox, port, ca_file):
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        clock = FakeClock(MONDAY_10_BERLIN)
        runtime = Runtime.build(
            Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
            digest_model(tmp_path / "m", port),
            clock=clock,
            registry=CollectorRegistry(),
            notifier=ConsoleNotifier(lambda _text: None),
            environ={"SMTP_USER": mailbox.username, "SMTP_PASSWORD": mailbox.password},
        )
        with transaction(runtime.engine) as session:
            record_readings(session, "orders", "depth", [Reading(500)], clock.now(), "push")
        runtime.evaluator.evaluate()
        clock.set(datetime(2026, 1, 6, 7, 0, tzinfo=UTC))
        runtime.start()
        try:
            assert runtime.scheduler is not None and runtime.scheduler.get_job("digest") is not None
            assert runtime.queue_digests() == ["digest:shop-team/finance-mail:2026-01-06"]
            runtime.worker.run_once()
        finally:
            runtime.stop()
    assert [m["Subject"] for m in mailbox.mails] == [
        "flowhealth daily digest for shop-team, Tue 06 Jan 2026: 1 incident, 1 still open"
    ]


def test_routes_test_says_when_the_digest_goes(tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    digest_model(model_dir, 25)
    result = CliRunner().invoke(app, ["routes", "test", "orders-backlog", "-m", str(model_dir), "--json"])
    assert result.exit_code == 0, result.output
    destinations = {d["receiver"]: d["when"] for d in json.loads(result.output)["destinations"]}
    assert destinations == {"slack": "at once", "finance-mail": "in the daily digest at 08:00 Europe/Berlin"}
