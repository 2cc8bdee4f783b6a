"""Alertmanager in: a real Alertmanager, loaded with the config `flowhealth export alertmanager
--to-flowhealth` writes, hands Prometheus' alerts to flowhealth, which opens the incident for the
rule's owner and posts it to Slack; an alert naming no rule is told to the catch-all team."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.errors import ModelError
from flowhealth.export import alertmanager_file
from flowhealth.model import Model
from flowhealth.model.loader import load_model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.tables import AlertEvent
from tests.support.alertmanager import alertmanager_binary, post_alerts, running_alertmanager
from tests.support.models import write_model
from tests.support.otlp import serve
from tests.support.services import need
from tests.support.slack_server import SlackServer
from tests.support.waiting import wait_until
from tests.test_export_alertmanager import CHANNELS, FLOWS, RULES, as_prometheus_sends

API_TOKEN = "flowhealth-api-token-0123"


@pytest.fixture
def model(tmp_path: Path) -> Model:
    root = tmp_path / "m"
    write_model(root, FLOWS, RULES)
    teams = root / "flows" / "teams.yaml"
    teams.write_text(
        teams.read_text().replace('"#erp-alerts"\n', '"#erp-alerts"\n    alertmanager_catch_all: true\n', 1)
    )
    return load_model(root)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(CHANNELS) as server:
        yield server


@pytest.fixture
def runtime(model: Model, state_engine: Engine, slack: SlackServer) -> Iterator[Runtime]:
    """A runtime on the state store of the test (SQLite and PostgreSQL, from `state_engine`).

    Stopped before the store goes: the delivery it wakes for Alertmanager's alerts runs in threads
    of its own, which must not hold a connection to a database the fixture then drops."""
    settings = Settings(
        database_url=state_engine.url.render_as_string(hide_password=False),
        api_token=API_TOKEN,
        SLACK_BOT_TOKEN=slack.token,
        FLOWHEALTH_SLACK_BASE_URL=slack.base_url,
    )
    runtime = Runtime.build(settings, model, engine=state_engine, registry=CollectorRegistry())
    yield runtime
    runtime.stop()


def test_alerts_from_alertmanager_open_the_owners_incident_and_reach_slack(
    model: Model, tmp_path: Path, slack: SlackServer, runtime: Runtime
) -> None:
    need(alertmanager_binary() is not None, "Alertmanager (Debian package prometheus-alertmanager)")
    token = tmp_path / "flowhealth_token"
    token.write_text(API_TOKEN)
    with serve(runtime) as flowhealth_url:
        document = yaml.safe_load(alertmanager_file(model, str(token), flowhealth_url))
        document["route"]["group_wait"] = document["route"]["group_interval"] = "1s"  # instead of 30 s and 5 min
        config = tmp_path / "alertmanager.yml"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        with running_alertmanager(config, tmp_path) as am_url:
            known = as_prometheus_sends(model, "products-rejected", 9, reason="schema")
            unknown = {"labels": {"alertname": "DiskFull", "instance": "db1"}, "annotations": {"summary": "95%"}}
            post_alerts(am_url, [known, unknown])
            wait_until(lambda: runtime.actions.list_incidents(), 30, "Alertmanager to hand the alert over")
            runtime.worker.run_once()
            [incident] = runtime.actions.list_incidents()
            assert incident["team"] == "shop-team"
            assert incident["severity"] == "warning"
            wait_until(lambda: _unknown_events(runtime), 30, "the unknown alert from Alertmanager")
            runtime.worker.run_once()
            posts = [args for method, args in slack.slack.calls if method == "chat.postMessage"]
            by_channel = {slack.slack.channel_id(p["channel"]): str(p) for p in posts}
            assert "products rejected" in by_channel["C1"].lower()  # #shop-alerts, the owner's
            assert "DiskFull" in by_channel["C2"]  # the unknown alert: #erp-alerts, the catch-all team's

            # Alertmanager says resolved: the incident resolves, as flowhealth's own alerts do.
            resolved = {**known, "endsAt": datetime.now(UTC).isoformat()}
            post_alerts(am_url, [resolved])
            wait_until(lambda: not runtime.actions.list_incidents(), 30, "the resolve from Alertmanager")
            wait_until(lambda: _unknown_events(runtime), 30, "the unknown alert from Alertmanager")
    [kept] = _unknown_events(runtime)
    assert kept.actor == "erp-team" and "DiskFull" in (kept.detail or "")


def _unknown_events(runtime: Runtime) -> list[AlertEvent]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(AlertEvent).where(AlertEvent.rule == "alertmanager")).all())


def test_the_receiver_needs_the_token_and_a_version_4_payload(
    model: Model, slack: SlackServer, runtime: Runtime
) -> None:
    with serve(runtime) as url:
        body = {"version": "4", "status": "firing", "alerts": []}
        assert httpx.post(f"{url}/api/v1/alertmanager", json=body).status_code == 401
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        assert httpx.post(f"{url}/api/v1/alertmanager", json={**body, "version": "3"}, headers=auth).status_code == 422
        answer = httpx.post(f"{url}/api/v1/alertmanager", json=body, headers=auth)
        assert answer.status_code == 200 and answer.json() == {"joined": 0, "unknown": 0}


def _payload(alert: dict[str, object], status: str = "firing") -> dict[str, object]:
    return {"version": "4", "status": status, "receiver": "shop-team", "alerts": [{**alert, "status": status}]}


def test_a_silence_made_in_flowhealth_mutes_what_prometheus_fires(
    model: Model, slack: SlackServer, runtime: Runtime
) -> None:
    now = runtime.clock.now()
    runtime.actions.silence({"flow": "catalog"}, now + timedelta(hours=1), "jane", "PIM import rerun")
    alert = as_prometheus_sends(model, "products-rejected", 9, reason="schema")
    with serve(runtime) as url:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        answer = httpx.post(f"{url}/api/v1/alertmanager", json=_payload(alert), headers=auth)
        assert answer.json() == {"joined": 1, "unknown": 0}
        runtime.worker.run_once()
        # Alertmanager repeats a firing alert every group_interval: still one alert, still muted.
        httpx.post(f"{url}/api/v1/alertmanager", json=_payload(alert), headers=auth)
        runtime.worker.run_once()
    posts = [args for method, args in slack.slack.calls if method == "chat.postMessage"]
    assert not any("products rejected" in str(p).lower() for p in posts), posts
    with Session(runtime.engine) as session:
        fired = session.exec(select(AlertEvent).where(AlertEvent.rule == "products-rejected")).all()
    assert [e.event for e in fired] == ["firing"]


def test_the_evaluator_leaves_alertmanagers_alerts_alone(model: Model, slack: SlackServer, runtime: Runtime) -> None:
    alert = as_prometheus_sends(model, "products-rejected", 9, reason="schema")
    with serve(runtime) as url:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        httpx.post(f"{url}/api/v1/alertmanager", json=_payload(alert), headers=auth)
        runtime.evaluator.evaluate()  # flowhealth has no value for the series: it must not resolve it
        assert len(runtime.actions.list_incidents()) == 1
        httpx.post(f"{url}/api/v1/alertmanager", json=_payload(alert, "resolved"), headers=auth)
    assert runtime.actions.list_incidents() == []


def test_two_catch_all_teams_are_refused_with_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "m"
    write_model(root, FLOWS, RULES)
    teams = root / "flows" / "teams.yaml"
    text = teams.read_text()
    for channel in ('"#shop-alerts"\n', '"#erp-alerts"\n'):
        text = text.replace(channel, channel + "    alertmanager_catch_all: true\n")
    teams.write_text(text)
    with pytest.raises(ModelError) as caught:
        load_model(root)
    [issue] = caught.value.issues
    assert issue.path == "flows/teams.yaml" and issue.line > 1
    assert "only one team can be the catch-all" in str(issue)
