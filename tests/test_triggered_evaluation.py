"""Rules are evaluated when their samples arrive: no waiting for the cycle, `for` exact, storms coalesced."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, col, select

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.model import Model
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.tables import AlertEvent
from flowhealth.testing import CapturingNotifier, metrics_registry
from tests.support.models import ORDERS_FLOW, orders_flow, write_model
from tests.support.otlp import TRACES_FLOW, business, request
from tests.support.slack_server import SlackServer
from tests.support.waiting import wait_until

TOKEN = "push-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOUR = 3600.0  # intervals long enough that no scheduled cycle runs during a test

FLOWS = (
    ORDERS_FLOW
    + """      delay: {kind: delay, description: Oldest order., probe: {kind: push}}
      rejected: {kind: rejections, description: Rejected orders., probe: {kind: push}}
"""
    + "".join(
        f"""  returns-{n}:
    description: Returns reach the ERP.
    object: return
    source_of_truth: shop
    targets: [erp]
    pattern: queue
    latency_class: same-day
    owner: shop-team
    signals:
      depth: {{kind: depth, description: Returns waiting., probe: {{kind: push}}}}
"""
        for n in range(5)
    )
)

RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    for: 30s
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
  orders-rejected:
    flow: orders
    signal: rejected
    above: 5
    keep_firing_for: 20s
    severity: warning
    summary: "{{ value | number }} rejected"
    business_impact: Rejected orders are not shipped.
    runbook: orders-late
""" + "".join(
    f"""  returns-{n}-backlog:
    flow: returns-{n}
    signal: depth
    above: 100
    severity: warning
    summary: "{{{{ value | number }}}} returns wait"
    business_impact: Refunds are late.
    runbook: orders-late
"""
    for n in range(5)
)


@pytest.fixture
def model(tmp_path: Path) -> Model:
    return write_model(tmp_path / "m", FLOWS, RULES)


def build(model: Model, tmp_path: Path, name: str, **kwargs: object) -> Runtime:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / name}.db",
        api_token=SecretStr(TOKEN),
        evaluation_interval=HOUR,
        delivery_interval=HOUR,
    )
    return Runtime.build(settings, model, registry=metrics_registry(), environ={}, **kwargs)  # type: ignore[arg-type]


def passes(runtime: Runtime, trigger: str) -> float:
    return runtime.registry.get_sample_value("flowhealth_evaluation_passes_total", {"trigger": trigger}) or 0.0


def pusher(runtime: Runtime) -> Callable[[str, str, float], None]:
    client = TestClient(create_app(runtime, manage_runtime=False))

    def push(flow: str, signal: str, value: float) -> None:
        answer = client.post(f"/api/v1/flows/{flow}/signals/{signal}", json={"value": value}, headers=AUTH)
        assert answer.status_code == 202, answer.text

    return push


def events(runtime: Runtime) -> list[tuple[str, str, object, float | None]]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(AlertEvent).order_by(col(AlertEvent.id))).all()
        return [(e.rule, e.event, e.at, e.value) for e in rows]


@pytest.fixture
def started() -> Iterator[list[Runtime]]:
    runtimes: list[Runtime] = []
    yield runtimes
    for runtime in runtimes:
        runtime.stop()
        runtime.engine.dispose()  # before PostgreSQL drops the test database under its connections


def test_a_pushed_value_over_threshold_reaches_slack_with_no_cycle_running(
    model: Model, tmp_path: Path, started: list[Runtime]
) -> None:
    with SlackServer({"#shop-alerts": "C1", "#erp-alerts": "C2"}) as slack:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'state.db'}",
            api_token=SecretStr(TOKEN),
            evaluation_interval=HOUR,
            delivery_interval=HOUR,
            SLACK_BOT_TOKEN=slack.token,
            FLOWHEALTH_SLACK_BASE_URL=slack.base_url,
        )
        runtime = Runtime.build(settings, model, registry=metrics_registry(), environ={})
        runtime.start()
        started.append(runtime)
        pusher(runtime)("orders", "rejected", 9)
        wait_until(
            lambda: [c for c in slack.slack.calls if c[0] == "chat.postMessage"], 10, "the Slack post", every=0.02
        )
        [(_, post)] = [c for c in slack.slack.calls if c[0] == "chat.postMessage"]
        assert "9 rejected" in str(post)
    assert passes(runtime, "interval") == 0
    assert passes(runtime, "sample") >= 1


def test_a_for_fires_the_moment_it_runs_out(model: Model, tmp_path: Path, started: list[Runtime]) -> None:
    clock = FakeClock()
    notifier = CapturingNotifier()
    runtime = build(model, tmp_path, "state", clock=clock, notifier=notifier, pacing_clock=clock.monotonic)
    runtime.start()
    started.append(runtime)
    t0 = clock.now()
    pusher(runtime)("orders", "delay", 1800)
    assert runtime.triggered.wait_idle()
    assert [e[1] for e in events(runtime)] == ["pending"]
    assert runtime.triggered.timers() == {("orders", "delay"): t0 + timedelta(seconds=30)}

    clock.advance(29.9)
    assert runtime.triggered.wait_idle()
    assert [e[1] for e in events(runtime)] == ["pending"]

    clock.advance(0.1)
    assert runtime.triggered.wait_idle()
    assert events(runtime)[-1] == ("orders-late", "firing", t0 + timedelta(seconds=30), 1800)
    wait_until(lambda: notifier.notices, 10, "a notice", every=0.02)
    assert [type(n).__name__ for n in notifier.notices] == ["Opened"]
    assert passes(runtime, "for") == 1
    assert passes(runtime, "interval") == 0


def test_a_burst_of_500_samples_makes_one_pass(model: Model, tmp_path: Path, started: list[Runtime]) -> None:
    notifier = CapturingNotifier()
    runtime = build(model, tmp_path, "state", notifier=notifier)
    runtime.start()
    started.append(runtime)
    push = pusher(runtime)
    # A pass in progress (the interval cycle, say) holds the evaluator: the burst arrives meanwhile.
    with runtime.evaluator.lock:
        for i in range(500):
            push(f"returns-{i % 5}", "depth", 50 + i)
    assert runtime.triggered.wait_idle()
    assert passes(runtime, "sample") == 1
    fired = sorted((rule, value) for rule, event, _, value in events(runtime) if event == "firing")
    # Every flow's rules saw its newest sample, in that one pass.
    assert fired == [(f"returns-{n}-backlog", 50 + 495 + n) for n in range(5)]
    runtime.worker.run_once()
    assert len(notifier.messages) == 5


def test_a_stream_of_samples_makes_at_most_four_passes_a_second(
    model: Model, tmp_path: Path, started: list[Runtime]
) -> None:
    runtime = build(model, tmp_path, "state", notifier=CapturingNotifier())
    runtime.start()
    started.append(runtime)
    push = pusher(runtime)
    began = time.monotonic()
    for i in range(500):
        push(f"returns-{i % 5}", "depth", 50 + i)
    assert runtime.triggered.wait_idle()
    elapsed = time.monotonic() - began
    # Passes started by samples are at least 0.25 s apart, however fast the samples come.
    assert 1 <= passes(runtime, "sample") <= elapsed / 0.25 + 1


# (second, flow, signal, value): pending, cleared and pending again, a `for` running out between
# samples, an alert firing at once, and a keep_firing_for holding it after the value cleared.
SEQUENCE = [
    (0, "orders", "delay", 1800),
    (10, "orders", "delay", 1900),
    (20, "orders", "delay", 100),
    (25, "orders", "delay", 2000),
    (40, "orders", "delay", 2100),
    (5, "orders", "rejected", 9),
    (15, "orders", "rejected", 2),
    (41, "orders", "rejected", 12),
    (46, "orders", "rejected", 3),
    (70, "orders", "delay", 100),
    (80, "returns-0", "depth", 500),
    (95, "returns-0", "depth", 5),
]


def test_evaluating_on_samples_decides_what_the_interval_cycle_decides(model: Model, tmp_path: Path) -> None:
    """The same samples at the same moments: identical alert events, at identical times, and identical messages.

    The interval runtime evaluates every second, the finest step of the sequence; the triggered
    one only when a sample arrives or a timer runs out.
    """
    outcomes = []
    for mode in ("interval", "triggered"):
        clock = FakeClock()
        start = clock.now()
        notifier = CapturingNotifier()
        runtime = build(model, tmp_path, mode, clock=clock, notifier=notifier, pacing_clock=clock.monotonic)
        push = pusher(runtime)
        if mode == "triggered":
            runtime.triggered.start()
        try:
            for second in range(121):
                clock.set(start + timedelta(seconds=second))
                for at, flow, signal, value in SEQUENCE:
                    if at == second:
                        push(flow, signal, value)
                if mode == "interval":
                    runtime.evaluate_and_deliver()
                else:
                    assert runtime.triggered.wait_idle()
                    runtime.worker.run_once()
        finally:
            runtime.stop()
        outcomes.append((events(runtime), [type(n).__name__ for n in notifier.notices], runtime))
    (interval_events, interval_notices, interval), (triggered_events, triggered_notices, triggered) = outcomes
    assert triggered_events == interval_events
    assert triggered_notices == interval_notices
    assert [e[1] for e in interval_events].count("firing") == 4
    assert ("orders-late", "firing", start + timedelta(seconds=55), 2100) in interval_events
    assert ("orders-rejected", "resolved", start + timedelta(seconds=35), 2) in interval_events
    assert ("orders-rejected", "resolved", start + timedelta(seconds=66), 3) in interval_events
    assert passes(triggered, "interval") == 0
    assert passes(triggered, "sample") == len({at for at, *_ in SEQUENCE})
    assert passes(interval, "interval") == 121


def test_a_probe_result_over_threshold_is_told_without_a_cycle(tmp_path: Path, started: list[Runtime]) -> None:
    rule = RULES.split("  orders-rejected:")[0].replace("    for: 30s\n", "")
    model = write_model(
        tmp_path / "m",
        orders_flow(f"sqlite:///{tmp_path / 'shop.db'}", "SELECT 1800", interval="1s", timeout="500ms"),
        rule,
    )
    notifier = CapturingNotifier()
    runtime = build(model, tmp_path, "state", notifier=notifier)
    runtime.start()
    started.append(runtime)
    wait_until(lambda: notifier.notices, 10, "a notice", every=0.02)
    assert [type(n).__name__ for n in notifier.notices] == ["Opened"]
    assert passes(runtime, "interval") == 0


def test_a_sample_a_follower_stores_is_evaluated_by_the_leader_at_once(
    model: Model, postgres_url: str, started: list[Runtime]
) -> None:
    notifiers = [CapturingNotifier(), CapturingNotifier()]
    for notifier in notifiers:
        settings = Settings(
            database_url=postgres_url, api_token=SecretStr(TOKEN), evaluation_interval=HOUR, delivery_interval=HOUR
        )
        runtime = Runtime.build(settings, model, registry=metrics_registry(), environ={}, notifier=notifier)
        runtime.start()
        started.append(runtime)
    leader, follower = started
    assert leader.cluster is not None and leader.cluster.view.leads
    assert follower.cluster is not None and not follower.cluster.view.leads
    assert leader.relay is not None and leader.relay.listening.wait(10)
    pusher(follower)("orders", "rejected", 9)
    wait_until(lambda: notifiers[0].notices, 10, "the leader's notice", every=0.02)
    assert [type(n).__name__ for n in notifiers[0].notices] == ["Opened"]
    assert passes(leader, "sample") == 1
    assert passes(follower, "sample") == 0
    assert passes(leader, "interval") == passes(follower, "interval") == 0


IN_FLIGHT_RULE = """
rules:
  orders-in-flight:
    flow: orders
    signal: in_flight
    above: 0
    severity: warning
    summary: "{{ value | number }} orders on their way"
    business_impact: Orders are not shipped yet.
    runbook: orders-late
"""


def test_a_trace_refresh_evaluates_the_trace_signals_rules_at_once(tmp_path: Path) -> None:
    notifier = CapturingNotifier()
    runtime = build(write_model(tmp_path / "m", TRACES_FLOW, IN_FLIGHT_RULE), tmp_path, "state", notifier=notifier)
    runtime.triggered.start()
    try:
        runtime.traces.ingest(request([business("shop", "placed", "O-1", end=time.time())]))
        runtime.refresh_traces()  # what the scheduled trace job runs
        assert runtime.triggered.wait_idle()
        runtime.worker.run_once()
    finally:
        runtime.stop()
    assert [type(n).__name__ for n in notifier.notices] == ["Opened"]
    assert passes(runtime, "sample") == 1
    assert passes(runtime, "interval") == 0
