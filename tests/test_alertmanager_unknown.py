"""Alertmanager alerts that name no rule: told once to their team (catch-all, or the `team` label), never silent.

Posted to the running service's `POST /api/v1/alertmanager` as Alertmanager sends them (the
end-to-end run through a real Alertmanager is in test_alertmanager_in.py), delivered by the
outbox to the local Slack and PagerDuty servers, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.alerting.enums import NoticeKind
from flowhealth.alerting.notices import ExternalAlert, Message
from flowhealth.model import Model
from flowhealth.model.loader import load_model
from flowhealth.model.receivers import EmailReceiver
from flowhealth.notify import email, teams, webhook
from flowhealth.notify.base import Delivery
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.tables import AlertEvent
from tests.support.http_stub import serve as serve_stub
from tests.support.models import write_model
from tests.support.otlp import serve
from tests.support.pagerduty_server import FakePagerDuty
from tests.support.slack_server import SlackServer
from tests.support.teams_server import validate_message
from tests.test_export_alertmanager import CHANNELS, FLOWS, RULES

REPO = Path(__file__).resolve().parent.parent
API_TOKEN = "flowhealth-api-token-0123"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
STARTS = "2026-01-05T09:00:00Z"

CATCH_ALL = """\
    alertmanager_catch_all: true
    receivers:
      pager: {kind: pagerduty, routing_key: "${PD_ERP_KEY}", severities: [critical]}
"""


@pytest.fixture
def model(tmp_path: Path) -> Model:
    root = tmp_path / "m"
    write_model(root, FLOWS, RULES)
    teams = root / "flows" / "teams.yaml"
    teams.write_text(teams.read_text().replace('"#erp-alerts"\n', '"#erp-alerts"\n' + CATCH_ALL, 1))
    return load_model(root)


class Service:
    def __init__(self, runtime: Runtime, url: str, slack: SlackServer, pagerduty: FakePagerDuty) -> None:
        self.runtime, self.url, self.slack, self.pagerduty = runtime, url, slack, pagerduty

    def send(self, labels: dict[str, str], status: str = "firing", **extra: Any) -> dict[str, Any]:
        alert = {"status": status, "labels": labels, "annotations": {"summary": "95% full"}, "startsAt": STARTS}
        alert.update(extra)
        body = {"version": "4", "status": status, "receiver": "flowhealth", "alerts": [alert]}
        answer = httpx.post(f"{self.url}/api/v1/alertmanager", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        self.runtime.worker.run_once()
        result: dict[str, Any] = answer.json()
        return result

    def posts(self) -> list[tuple[str | None, str]]:
        calls = [args for method, args in self.slack.slack.calls if method == "chat.postMessage"]
        return [(CHANNELS.get(self.slack.slack.channel_id(c["channel"]) or ""), c["text"]) for c in calls]

    def history(self) -> list[AlertEvent]:
        with Session(self.runtime.engine) as session:
            return list(session.exec(select(AlertEvent).where(AlertEvent.rule == "alertmanager")).all())


@pytest.fixture
def service(model: Model, state_engine: Engine) -> Iterator[Service]:
    pagerduty = FakePagerDuty()
    with SlackServer(CHANNELS) as slack, serve_stub(pagerduty.handle) as pd_url:
        settings = Settings(
            database_url=state_engine.url.render_as_string(hide_password=False),
            api_token=API_TOKEN,
            SLACK_BOT_TOKEN=slack.token,
            FLOWHEALTH_SLACK_BASE_URL=slack.base_url,
            pagerduty_events_url=pd_url,
        )
        pacing = itertools.count(step=5.0)  # Slack's one-per-second pacing, without waiting for it
        runtime = Runtime.build(
            settings,
            model,
            engine=state_engine,
            registry=CollectorRegistry(),
            environ={"PD_ERP_KEY": PD_KEY},
            pacing_clock=lambda: next(pacing),
        )
        with serve(runtime) as url:
            yield Service(runtime, url, slack, pagerduty)


DISK = {"alertname": "DiskFull", "instance": "db1", "severity": "critical"}


def test_an_unknown_alert_reaches_the_catch_all_team_once_and_its_resolve_follows(service: Service) -> None:
    s = service
    assert s.send(DISK) == {"joined": 0, "unknown": 1}
    s.send(DISK)  # Alertmanager repeats firing alerts every repeat_interval
    [(channel, text)] = s.posts()
    assert channel == "erp-alerts"
    assert "Alertmanager: DiskFull (critical) is firing: 95% full (instance=db1, severity=critical)" in text
    assert "comes to erp-team" in text

    s.send(DISK, "resolved", endsAt="2026-01-05T09:20:00Z")
    s.send(DISK, "resolved", endsAt="2026-01-05T09:20:00Z")
    assert [t for _c, t in s.posts()][1:] == [
        ":white_check_mark: Alertmanager: DiskFull has resolved (instance=db1, severity=critical)."
    ]
    assert [e.event for e in s.history()] == ["firing", "resolved"]
    assert {e.actor for e in s.history()} == {"erp-team"}


def test_a_critical_unknown_alert_pages_the_catch_all_teams_pagerduty(service: Service) -> None:
    s = service
    s.send(DISK, fingerprint="a1b2c3d4e5f60718", generatorURL="http://prometheus:9090/graph?g0.expr=disk")
    s.send(DISK, "resolved", fingerprint="a1b2c3d4e5f60718")
    key = "flowhealth:erp-team:alertmanager:a1b2c3d4e5f60718"
    assert s.pagerduty.actions(key) == ["trigger", "resolve"]
    trigger = s.pagerduty.alerts[key].events[0]
    assert trigger["payload"]["summary"] == "DiskFull: 95% full"
    assert trigger["payload"]["source"] == "db1" and trigger["payload"]["severity"] == "critical"
    assert trigger["client_url"] == "http://prometheus:9090/graph?g0.expr=disk"
    assert not s.pagerduty.rejected


def test_the_team_label_picks_the_owner_and_warnings_do_not_page(service: Service) -> None:
    s = service
    s.send({"alertname": "CertExpiring", "team": "shop-team", "severity": "warning"})
    s.send({"alertname": "Whatever", "team": "no-such-team"})
    assert [c for c, _t in s.posts()] == ["shop-alerts", "erp-alerts"]
    assert "CertExpiring (warning)" in s.posts()[0][1] and "Whatever (warning)" in s.posts()[1][1]
    assert s.pagerduty.accepted == []


def test_a_flowhealth_silence_of_the_team_mutes_unknown_alerts_but_keeps_them(service: Service) -> None:
    s = service
    now = s.runtime.clock.now()
    s.runtime.actions.silence({"team": "erp-team"}, now + timedelta(hours=1), "jane", "disk swap tonight")
    s.send(DISK)
    assert not any("DiskFull" in t for _c, t in s.posts())
    assert s.pagerduty.accepted == []
    [kept] = s.history()
    assert kept.event == "firing" and '"silenced_by"' in (kept.detail or "")


def test_a_new_firing_after_a_resolve_is_told_again(service: Service) -> None:
    s = service
    s.send(DISK)
    s.send(DISK, "resolved")
    later = (datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(hours=2)).isoformat()
    s.send(DISK, startsAt=later)
    assert sum("DiskFull (critical) is firing" in t for _c, t in s.posts()) == 2


def test_every_channel_renders_an_unknown_alert_its_receiver_accepts() -> None:
    alert = ExternalAlert(
        at=datetime(2026, 1, 5, 9, 1, tzinfo=UTC),
        alertname="DiskFull",
        status="firing",
        severity="critical",
        team="erp-team",
        labels=DISK,
        annotations={"summary": "95% full"},
        starts_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        fingerprint="a1b2c3d4e5f60718",
    )
    message = Message(kind=NoticeKind.POST, notices=[alert])
    delivery = Delivery("k1", "alertmanager:a1b2c3d4e5f60718:hook", NoticeKind.POST, "erp-team/hook", message, 1)
    card = teams.render(message)
    assert validate_message(card) == [] and b"DiskFull (critical) is firing" in card
    hook = webhook.body(delivery).model_dump(mode="json")
    jsonschema.validate(hook, json.loads((REPO / "docs" / "webhook.schema.json").read_text()))
    assert hook["status"] == "firing" and hook["alerts"][0]["labels"]["alertname"] == "DiskFull"
    receiver = EmailReceiver.model_validate(
        {"kind": "email", "to": ["ops@example.com"], "from": "fh@example.com", "smtp": {"host": "localhost"}}
    )
    mail = email.compose(delivery, receiver, None)
    assert mail["Subject"].startswith("Alertmanager: DiskFull (critical) is firing: 95% full")


def test_a_storm_of_unknown_alerts_is_a_few_messages_and_pagerduty_gets_each_critical_one(service: Service) -> None:
    s = service
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "TargetDown", "instance": f"node{i}", "severity": "critical" if i < 3 else "info"},
            "annotations": {},
            "startsAt": STARTS,
        }
        for i in range(45)
    ]
    body = {"version": "4", "status": "firing", "receiver": "flowhealth", "alerts": alerts}
    answer = httpx.post(f"{s.url}/api/v1/alertmanager", json=body, headers=AUTH)
    assert answer.json() == {"joined": 0, "unknown": 45}
    for _ in range(3):  # the team's messages go one after the other, in order
        s.runtime.worker.run_once()
    posts = s.posts()
    assert [len(text.splitlines()) for _channel, text in posts] == [20, 20, 5]
    assert {channel for channel, _text in posts} == {"erp-alerts"}
    assert len(s.pagerduty.alerts) == 3  # node0..node2 are critical; the info ones do not page
    assert len(s.history()) == 45
