"""Reloading the model without a restart: a good model, a broken one, a rule removed while firing."""

from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlmodel import Session, col, select

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.model import load_model
from flowhealth.notify.base import Delivery
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.outbox import ThreadRef
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import AlertState, Incident
from tests.support.faults import THRESHOLD, TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model
from tests.support.service import ServeProcess
from tests.support.services import NATS_ADDR, RABBITMQ_ADDR, need, port_open

AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Captured:
    """Keeps every delivered notification's dedup key."""

    min_interval_per_channel = 0.0

    def __init__(self) -> None:
        self.keys: list[str] = []

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        self.keys.append(delivery.dedup_key)
        return thread or ThreadRef("C1", delivery.dedup_key)


def rules_without(flow: str) -> str:
    """The fault model's rules, minus the backlog rule of one flow."""
    text = textwrap.dedent(pushed_rules())
    start = text.index(f"  {flow}-backlog:")
    end = text.find("\n  f", start + 1)
    return text[:start] + (text[end + 1 :] if end != -1 else "")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    return tmp_path / "m"


@pytest.fixture
def notifier() -> Captured:
    return Captured()


@pytest.fixture
def runtime(tmp_path: Path, model_dir: Path, notifier: Captured) -> Runtime:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}", api_token=SecretStr(TOKEN), model_dir=model_dir
    )
    rt = Runtime.build(
        settings,
        load_model(model_dir),
        clock=FakeClock(),
        registry=CollectorRegistry(),
        environ={},
        notifier=notifier,
    )
    with transaction(rt.engine) as session:
        record_readings(session, "f1", "backlog", [Reading(THRESHOLD * 3)], rt.clock.now(), "push")
    rt.evaluate_and_deliver()
    return rt


def firing(rt: Runtime) -> dict[str, AlertState]:
    with Session(rt.engine) as session:
        rows = session.exec(select(AlertState).where(col(AlertState.state) == "firing")).all()
    return {row.rule: row for row in rows}


def test_a_good_model_is_swapped_in_and_firing_alerts_keep_their_state(runtime: Runtime, model_dir: Path) -> None:
    before = firing(runtime)["f1-backlog"]
    old_model = runtime.model
    (model_dir / "alert_rules" / "rules.yaml").write_text(
        textwrap.dedent(pushed_rules()).replace("  f3-backlog:", "  f3-backlog-renamed:")
    )

    answer = TestClient(create_app(runtime, manage_runtime=False)).post("/-/reload", headers=AUTH)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["added_rules"], body["removed_rules"]) == (
        "reloaded",
        ["f3-backlog-renamed"],
        ["f3-backlog"],
    )
    assert runtime.model is not old_model and "f3-backlog-renamed" in runtime.model.all_rules()
    runtime.clock.advance(60)  # type: ignore[attr-defined]
    runtime.evaluate_and_deliver()
    after = firing(runtime)["f1-backlog"]
    assert (after.firing_since, after.incident) == (before.firing_since, before.incident)
    assert runtime.registry.get_sample_value("flowhealth_config_last_reload_successful") == 1


def test_a_broken_model_is_refused_with_its_errors_and_the_old_one_keeps_running(
    runtime: Runtime, model_dir: Path
) -> None:
    old_model = runtime.model
    (model_dir / "alert_rules" / "rules.yaml").write_text(
        textwrap.dedent(pushed_rules()).replace("signal: backlog", "signal: no-such-signal", 1)
    )
    api = TestClient(create_app(runtime, manage_runtime=False))

    answer = api.post("/-/reload", headers=AUTH)

    assert answer.status_code == 422
    body = answer.json()
    assert body["status"] == "refused"
    assert any("rules.yaml:" in error and "no-such-signal" in error for error in body["errors"]), body["errors"]
    assert runtime.model is old_model
    assert runtime.registry.get_sample_value("flowhealth_config_last_reload_successful") == 0
    assert api.post("/-/reload").status_code == 401  # no token, no reload


def test_a_reload_reads_the_model_within_the_limits_the_service_was_started_with(
    runtime: Runtime, model_dir: Path
) -> None:
    """FLOWHEALTH_MODEL_MAX_* hold for a reload too: a model the service started with is not refused by a default."""
    api = TestClient(create_app(runtime, manage_runtime=False))
    runtime.settings.model_max_values = 20  # as if the service had been started with FLOWHEALTH_MODEL_MAX_VALUES=20

    answer = api.post("/-/reload", headers=AUTH)

    assert answer.status_code == 422
    assert any("limit of 20 values" in error for error in answer.json()["errors"]), answer.json()["errors"]
    runtime.settings.model_max_values = 10_000_000
    assert api.post("/-/reload", headers=AUTH).status_code == 200


def test_a_rule_removed_while_firing_resolves_its_alert_and_says_so(
    runtime: Runtime, model_dir: Path, notifier: Captured
) -> None:
    assert "f1-backlog" in firing(runtime)
    opened = list(notifier.keys)
    (model_dir / "alert_rules" / "rules.yaml").write_text(rules_without("f1"))

    answer = TestClient(create_app(runtime, manage_runtime=False)).post("/-/reload", headers=AUTH)

    assert answer.json()["removed_rules"] == ["f1-backlog"]
    assert "f1-backlog" not in firing(runtime)
    runtime.evaluate_and_deliver()
    with Session(runtime.engine) as session:
        incident = session.exec(select(Incident)).one()
    assert incident.status == "resolved"
    assert opened == ["incident:1:1:open"]
    assert notifier.keys == ["incident:1:1:open", "incident:1:2:update"], "the resolve was not delivered once"
    runtime.evaluate_and_deliver()
    assert "f1-backlog" not in firing(runtime)  # the new model does not bring it back


def test_sighup_reloads_a_running_service_and_sigterm_stops_it_without_tracebacks(
    tmp_path: Path, model_dir: Path
) -> None:
    env = {"FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "FLOWHEALTH_API_TOKEN": TOKEN}
    service = ServeProcess(model_dir, env, tmp_path / "serve.log")
    service.start()
    service.wait_running()
    try:
        assert service.process is not None
        reloaded_at = "flowhealth_config_last_reload_success_timestamp_seconds"
        first = _metric(service.url, reloaded_at)
        (model_dir / "alert_rules" / "rules.yaml").write_text(rules_without("f2"))
        time.sleep(0.01)
        service.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while _metric(service.url, reloaded_at) == first and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _metric(service.url, reloaded_at) > first, service.log()
        service.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how it ended.
        assert service.process.wait(20) in (0, -signal.SIGTERM)
    finally:
        service.stop()
    assert "Traceback" not in service.log(), service.log()
    assert "model reloaded" in service.log()
    assert "flowhealth stopped: running cycles finished" in service.log()


def _metric(url: str, name: str) -> float:
    deadline = time.monotonic() + 15
    while True:  # serve answers /healthz while it waits for its database, before /metrics exists
        try:
            for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} not exported")
        time.sleep(0.1)


BROKER_FLOWS = """
connections:
  rabbit: {url: "${RABBIT_URL}"}
  nats: {url: "nats://127.0.0.1:4222"}
flows:
  orders:
    description: Orders reach the ERP.
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: queue
    latency_class: same-day
    owner: shop-team
    signals:
      queued:
        kind: depth
        description: A queue that does not exist (the broker closes the channel).
        probe: {kind: rabbitmq, connection: rabbit, queue: no-such-queue, measure: ready, interval: 1s, timeout: 900ms}
      pending:
        kind: depth
        description: A stream that does not exist.
        probe: {kind: nats, connection: nats, stream: NOSUCH, consumer: erp, measure: pending, interval: 1s, timeout: 900ms}
"""


def test_sigterm_with_broker_probes_running_prints_no_traceback(tmp_path: Path) -> None:
    need(port_open(*RABBITMQ_ADDR), "RabbitMQ")
    need(port_open(*NATS_ADDR), "NATS")
    write_model(tmp_path / "m", BROKER_FLOWS)
    env = {
        "FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "RABBIT_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
    }
    service = ServeProcess(tmp_path / "m", env, tmp_path / "serve.log")
    service.start()
    service.wait_running()
    try:
        deadline = time.monotonic() + 20
        while service.log().count("does not exist") < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(20) in (0, -signal.SIGTERM)
    finally:
        service.stop()
    assert "does not exist" in service.log()  # the probes ran and said what is wrong
    assert "Traceback" not in service.log(), service.log()
