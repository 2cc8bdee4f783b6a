"""PagerDuty, Teams, a signed webhook and email: fire, escalate, ack from the other side, resolve, outages.

Each channel is driven through the real outbox worker against a local server that speaks its
protocol strictly (tests/support), and what each receiver got is counted: exactly once, in order.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlmodel import Session, col, select

from flowhealth.alerting.notices import EvidenceTable, read_message
from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model, load_model
from flowhealth.notify import teams
from flowhealth.notify.console import ConsoleNotifier
from flowhealth.notify.delivery import OutboxWorker
from flowhealth.notify.fanout import Fanout
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import IncidentEvent, OutboxMessage
from tests.support.alerting import Rig, make_rig
from tests.support.alerting_model import FLOWS, RULES, write_alerting_model
from tests.support.http_stub import serve
from tests.support.models import RUNBOOK
from tests.support.pagerduty_server import FakePagerDuty
from tests.support.smtp_server import Mailbox, smtp_server
from tests.support.teams_server import FakeTeams, validate_message
from tests.support.webhook_receiver import WebhookReceiver

MONDAY_10_BERLIN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
HOOK_SECRET = "hook-signing-secret"

RECEIVERS = """\
    receivers:
      pager:
        kind: pagerduty
        routing_key: ${PD_SHOP_KEY}
        severities: [critical]
      teams:
        kind: teams
        url: ${TEAMS_SHOP_URL}
        severities: [critical, warning]
      erp-hook:
        kind: webhook
        url: ${SHOP_HOOK_URL}
        secret: ${SHOP_HOOK_SECRET}
      mail:
        kind: email
        to: [shop-oncall@example.com]
        from: flowhealth@example.com
        smtp:
          host: 127.0.0.1
          port: SMTP_PORT_VALUE
          username: ${SMTP_USER}
          password: ${SMTP_PASSWORD}
"""


def model_with_receivers(root: Path, smtp_port: int) -> Model:
    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    flows = FLOWS.replace(
        "    business_hours: {timezone: Europe/Berlin",
        RECEIVERS.replace("SMTP_PORT_VALUE", str(smtp_port)) + "    business_hours: {timezone: Europe/Berlin",
        1,
    )
    (root / "flows" / "model.yaml").write_text(flows)
    (root / "alert_rules" / "rules.yaml").write_text(RULES)
    (root / "runbooks" / "rb.md").write_text(RUNBOOK.format(title="rb", team="shop-team"))
    return load_model(root)


@dataclass
class Channels:
    rig: Rig
    worker: OutboxWorker
    pagerduty: FakePagerDuty
    teams: FakeTeams
    hook: WebhookReceiver
    mailbox: Mailbox
    chat: list[str]
    pacing: list[float]
    registry: CollectorRegistry

    def deliver(self, passes: int = 6) -> None:
        for _ in range(passes):
            self.pacing[0] += 5.0
            self.rig.clock.advance(1)
            self.worker.run_once()

    def waiting(self) -> list[OutboxMessage]:
        with Session(self.rig.engine) as session:
            return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None))).all())


@pytest.fixture
def channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    with channel_rig(tmp_path, monkeypatch) as rig:
        yield rig


@contextmanager
def channel_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    """Every channel's local server, a model whose team has a receiver of each kind, the rig and worker."""
    pagerduty, teams, hook = FakePagerDuty(), FakeTeams(), WebhookReceiver(HOOK_SECRET)
    with (
        serve(pagerduty.handle) as pd_url,
        serve(teams.handle) as teams_url,
        serve(hook.handle) as hook_url,
        smtp_server(tmp_path) as (mailbox, smtp_port, ca_file),
    ):
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        environ = {
            "PD_SHOP_KEY": PD_KEY,
            "TEAMS_SHOP_URL": f"{teams_url}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SECRETSIG",
            "SHOP_HOOK_URL": f"{hook_url}/flowhealth",
            "SHOP_HOOK_SECRET": HOOK_SECRET,
            "SMTP_USER": mailbox.username,
            "SMTP_PASSWORD": mailbox.password,
        }
        model = model_with_receivers(tmp_path / "m", smtp_port)
        rig = make_rig(model, tmp_path, FakeClock(MONDAY_10_BERLIN))
        chat: list[str] = []
        pacing = [0.0]
        fanout = Fanout(ConsoleNotifier(chat.append), model, environ, pagerduty_url=pd_url)
        registry = CollectorRegistry()
        worker = OutboxWorker(rig.engine, fanout, rig.clock, Metrics(registry), pacing_clock=lambda: pacing[0])
        yield Channels(rig, worker, pagerduty, teams, hook, mailbox, chat, pacing, registry)


def fire_critical(c: Channels) -> None:
    c.rig.observe("orders", "delay", 1800)
    c.rig.tick()
    c.deliver()


DEDUP = "flowhealth:shop-team:incident:1"


def test_fire_ack_resolve_reach_every_channel_once_in_order(channels: Channels) -> None:
    c = channels
    fire_critical(c)
    assert c.pagerduty.actions(DEDUP) == ["trigger"]
    trigger = c.pagerduty.alerts[DEDUP].events[0]
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "orders"
    assert trigger["payload"]["class"] == "orders-late"
    assert trigger["payload"]["custom_details"]["business_impact"] == "Orders are not shipped."
    assert trigger["payload"]["custom_details"]["value_vs_threshold"] == "30m > 15m"
    assert {link["text"] for link in trigger["links"]} >= {"Runbook: rb", "Dashboard"}
    assert "[FIRING] #1" in c.teams.texts()[0]
    assert [b["status"] for b in c.hook.bodies] == ["firing"]
    assert c.hook.bodies[0]["alerts"][0]["labels"]["alertname"] == "orders-late"
    assert [m["Subject"] for m in c.mailbox.mails] == ["[FIRING] flowhealth #1: " + c.hook.bodies[0]["title"]]

    c.rig.actions.ack("#1", "carol")
    c.rig.tick()
    c.deliver()
    assert c.pagerduty.actions(DEDUP) == ["trigger", "acknowledge"]
    assert any("Acknowledged by carol" in text for text in c.teams.texts())
    assert c.mailbox.mails[1]["In-Reply-To"] == c.mailbox.mails[0]["Message-ID"]

    c.rig.observe("orders", "delay", 60)
    c.rig.tick()
    c.deliver()
    assert c.pagerduty.actions(DEDUP) == ["trigger", "acknowledge", "resolve"]
    assert c.pagerduty.alerts[DEDUP].status == "resolved"
    assert [b["status"] for b in c.hook.bodies] == ["firing", "firing", "resolved"]
    assert len(c.teams.cards) == 3 and "[RESOLVED]" in c.teams.texts()[0]
    assert len(c.mailbox.mails) == 3
    assert all(m["References"] == c.mailbox.mails[0]["Message-ID"] for m in c.mailbox.mails[1:])
    assert c.hook.duplicates == 0 and not c.hook.refused and not c.teams.rejected and not c.pagerduty.rejected
    assert c.waiting() == []


def test_deliveries_are_counted_per_channel(channels: Channels) -> None:
    c = channels
    fire_critical(c)

    def count(channel: str, outcome: str) -> float:
        value = c.registry.get_sample_value(
            "flowhealth_notifications_total", {"kind": "open", "channel": channel, "outcome": outcome}
        )
        return value or 0.0

    for channel in ("slack", "pagerduty", "teams", "webhook", "email"):
        assert count(channel, "delivered") == 1, channel


def test_severities_pick_the_channels(channels: Channels) -> None:
    c = channels
    c.rig.observe("orders", "depth", 500)  # orders-backlog: warning
    c.rig.tick()
    c.deliver()
    assert c.pagerduty.accepted == []  # critical only
    assert len(c.teams.cards) == 1
    assert len(c.hook.bodies) == 1
    assert len(c.mailbox.mails) == 1


def test_escalation_retriggers_pagerduty_and_tells_every_channel(channels: Channels) -> None:
    c = channels
    fire_critical(c)
    c.rig.tick(31 * 60)
    c.deliver()
    assert c.pagerduty.actions(DEDUP) == ["trigger", "trigger"]
    assert any("escalating to @leads" in text for text in c.teams.texts())
    assert any("escalating" in line for body in c.hook.bodies for line in body["lines"])


def test_a_receiver_outage_delays_only_its_own_messages_and_loses_nothing(channels: Channels) -> None:
    c = channels
    c.pagerduty.down = True
    c.mailbox.refuse_with = "451 4.3.0 mailbox busy, try later"
    fire_critical(c)
    c.rig.actions.ack("#1", "carol")
    c.rig.tick()
    c.deliver()
    assert c.pagerduty.accepted == [] and c.mailbox.mails == []
    assert len(c.teams.cards) == 2 and len(c.hook.bodies) == 2  # the others went on
    waiting = {m.receiver for m in c.waiting()}
    assert waiting == {"shop-team/pager", "shop-team/mail"}
    errors = {m.receiver: m.last_error for m in c.waiting() if m.last_error}
    assert "PagerDuty (shop-team/pager)" in errors["shop-team/pager"]
    assert "451" in errors["shop-team/mail"]

    c.pagerduty.down = False
    c.mailbox.refuse_with = None
    c.rig.clock.advance(600)
    c.deliver(passes=10)
    assert c.pagerduty.actions(DEDUP) == ["trigger", "acknowledge"]
    assert len(c.mailbox.mails) == 2
    assert c.mailbox.mails[1]["In-Reply-To"] == c.mailbox.mails[0]["Message-ID"]
    assert c.waiting() == []


def test_ambiguous_failures_are_retried_without_duplicates(channels: Channels) -> None:
    c = channels
    c.pagerduty.failures.extend(["500-after-store", "429"])
    c.hook.failures.append("500-after-store")
    fire_critical(c)
    c.rig.clock.advance(60)
    c.deliver()
    assert c.pagerduty.incidents_opened == 1  # the same dedup_key: appended, not paged twice
    assert len(c.hook.bodies) == 1 and c.hook.duplicates == 1  # the receiver saw the idempotency key twice
    assert c.waiting() == []


def test_a_missing_secret_keeps_the_message_queued_with_the_reason(channels: Channels, tmp_path: Path) -> None:
    c = channels
    fanout = Fanout(ConsoleNotifier(c.chat.append), c.rig.model, {}, pagerduty_url="http://127.0.0.1:9")
    worker = OutboxWorker(c.rig.engine, fanout, c.rig.clock, Metrics(CollectorRegistry()), pacing_clock=lambda: 0.0)
    c.rig.observe("orders", "delay", 1800)
    c.rig.tick()
    worker.run_once()
    errors = {m.receiver: m.last_error for m in c.waiting()}
    assert errors["shop-team/pager"] == "receiver shop-team/pager: environment variable PD_SHOP_KEY is not set"
    assert "SECRETSIG" not in " ".join(str(e) for e in errors.values())


def test_unknown_receiver_is_kept_not_dropped(channels: Channels) -> None:
    c = channels
    fire_critical(c)
    fanout = Fanout(ConsoleNotifier(c.chat.append), c.rig.model, {}, channels={})
    worker = OutboxWorker(c.rig.engine, fanout, c.rig.clock, Metrics(CollectorRegistry()), pacing_clock=lambda: 0.0)
    c.rig.actions.ack("#1", "carol")
    c.rig.tick()
    worker.run_once()
    assert {m.receiver for m in c.waiting()} >= {"shop-team/pager"}
    assert all("is not declared in the model" in (m.last_error or "") for m in c.waiting() if m.receiver != "slack")


def test_teams_card_stays_under_the_size_limit_with_huge_evidence(channels: Channels) -> None:
    c = channels
    c.rig.observe("orders", "delay", 1800)
    c.rig.tick()
    with Session(c.rig.engine) as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.receiver == "shop-team/teams")).one()
    message = read_message(row.kind, row.payload, at=row.created_at)
    assert message.view is not None
    table = EvidenceTable(columns=["order", "note"], rows=[[f"o-{i}", "x" * 900] for i in range(200)])
    alerts = [message.view.alerts[0].model_copy(update={"evidence": table}), *message.view.alerts[1:]]
    big = message.model_copy(update={"view": message.view.model_copy(update={"alerts": alerts})})
    body = teams.render(big)
    assert len(body) <= teams.MAX_BYTES
    assert validate_message(body) == []
    assert b"more rows" in body


PD_WEBHOOK_SECRET = "pd-webhook-secret-0123"


@pytest.fixture
def pagerduty_runtime(tmp_path: Path) -> Iterator[tuple[Runtime, FakePagerDuty, list[str]]]:
    pagerduty = FakePagerDuty()
    with serve(pagerduty.handle) as pd_url:
        model_dir = tmp_path / "m"
        model = model_with_receivers(model_dir, 25)
        environ = {"PD_SHOP_KEY": PD_KEY}
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'state.db'}",
            pagerduty_events_url=pd_url,
            pagerduty_webhook_secret=SecretStr(PD_WEBHOOK_SECRET),
        )
        chat: list[str] = []
        runtime = Runtime.build(
            settings,
            model,
            clock=FakeClock(MONDAY_10_BERLIN),
            registry=CollectorRegistry(),
            notifier=ConsoleNotifier(chat.append),
            environ=environ,
        )
        yield runtime, pagerduty, chat


def _fire_and_deliver(runtime: Runtime) -> None:
    with transaction(runtime.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], runtime.clock.now(), "push")
    runtime.evaluator.evaluate()
    runtime.worker.run_once()


def test_ack_and_resolve_in_pagerduty_reach_flowhealth(
    pagerduty_runtime: tuple[Runtime, FakePagerDuty, list[str]],
) -> None:
    runtime, pagerduty, chat = pagerduty_runtime
    _fire_and_deliver(runtime)
    assert pagerduty.actions(DEDUP) == ["trigger"]
    client = TestClient(create_app(runtime, manage_runtime=False))

    body, headers = pagerduty.webhook(PD_WEBHOOK_SECRET, "incident.acknowledged", DEDUP, "Jane Doe")
    assert client.post("/api/v1/pagerduty", content=body, headers=headers).status_code == 202
    assert client.post("/api/v1/pagerduty", content=body, headers=headers).status_code == 202  # PagerDuty retries
    [incident] = runtime.actions.list_incidents(include_resolved=True)
    assert incident["acked_by"] == "Jane Doe (PagerDuty)"
    runtime.evaluator.evaluate()
    runtime.clock.advance(5)
    runtime.worker.run_once()
    assert any("Acknowledged by Jane Doe (PagerDuty)" in text for text in chat)
    assert sum("Acknowledged by" in text for text in chat) == 1  # the retried webhook acted once

    body, headers = pagerduty.webhook(PD_WEBHOOK_SECRET, "incident.resolved", DEDUP, "Jane Doe")
    assert client.post("/api/v1/pagerduty", content=body, headers=headers).status_code == 202
    [incident] = runtime.actions.list_incidents(include_resolved=True)
    assert incident["status"] == "resolved" and incident["resolved_by"] == "Jane Doe (PagerDuty)"
    with Session(runtime.engine) as session:
        events = session.exec(select(IncidentEvent).where(col(IncidentEvent.actor) == "Jane Doe (PagerDuty)")).all()
    assert [(e.event, e.source) for e in events] == [("acked", "pagerduty"), ("resolved", "pagerduty")]


def test_pagerduty_webhook_signature_is_checked(pagerduty_runtime: tuple[Runtime, FakePagerDuty, list[str]]) -> None:
    runtime, pagerduty, _chat = pagerduty_runtime
    _fire_and_deliver(runtime)
    client = TestClient(create_app(runtime, manage_runtime=False))
    body, headers = pagerduty.webhook("another-secret", "incident.acknowledged", DEDUP, "Mallory")
    response = client.post("/api/v1/pagerduty", content=body, headers=headers)
    assert response.status_code == 401
    assert "X-PagerDuty-Signature" in response.json()["detail"]
    body, headers = pagerduty.webhook(PD_WEBHOOK_SECRET, "incident.acknowledged", DEDUP, "Jane")
    headers["X-PagerDuty-Signature"] = "v1=deadbeef," + headers["X-PagerDuty-Signature"]  # rotation: any may match
    assert client.post("/api/v1/pagerduty", content=body, headers=headers).status_code == 202
    bad = client.post("/api/v1/pagerduty", content=b"[]", headers={**headers, "X-PagerDuty-Signature": _sign(b"[]")})
    assert bad.status_code == 400
    [incident] = runtime.actions.list_incidents(include_resolved=True)
    assert incident["acked_by"] == "Jane (PagerDuty)"


def _sign(raw: bytes) -> str:
    return "v1=" + hmac.new(PD_WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()


def test_receivers_added_by_a_reload_are_told_without_a_restart(tmp_path: Path) -> None:
    hook = WebhookReceiver(HOOK_SECRET)
    with serve(hook.handle) as hook_url:
        model_dir = tmp_path / "m"
        model = write_alerting_model(model_dir)  # no receivers yet
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=SecretStr("reload-token"), model_dir=model_dir
        )
        environ = {"SHOP_HOOK_URL": f"{hook_url}/flowhealth", "SHOP_HOOK_SECRET": HOOK_SECRET}
        chat: list[str] = []
        runtime = Runtime.build(
            settings,
            model,
            clock=FakeClock(MONDAY_10_BERLIN),
            registry=CollectorRegistry(),
            notifier=ConsoleNotifier(chat.append),
            environ=environ,
        )
        model_with_receivers(model_dir, 25)  # the team gains a webhook (and other) receivers
        answer = TestClient(create_app(runtime, manage_runtime=False)).post(
            "/-/reload", headers={"Authorization": "Bearer reload-token"}
        )
        assert answer.status_code == 200, answer.text
        _fire_and_deliver(runtime)
        assert [b["status"] for b in hook.bodies] == ["firing"]
