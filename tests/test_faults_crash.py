"""kill -9 of a real `flowhealth serve` during evaluation, delivery and trace ingestion, then restart."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.store.db import make_engine
from flowhealth.store.tables import AlertState, Sample
from flowhealth.traces.decode import inflate
from tests.support.faults import (
    PUSHED,
    SLACK_TOKEN,
    THRESHOLD,
    TOKEN,
    delivered_in_order,
    outbox,
    posting_keys,
    pushed_flows,
    pushed_rules,
    replies_follow_parents,
    serve_env,
    slack_keys,
)
from tests.support.models import write_model
from tests.support.otlp import business, request
from tests.support.service import ServeProcess
from tests.support.slack_server import SlackServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def spans_in(body: bytes) -> int:
    """Spans of an export request waiting in the span inbox (its protobuf body, gzip as it came or plain)."""
    request = ExportTraceServiceRequest.FromString(inflate(body))
    return sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer({"C1": "shop-alerts"}, token=SLACK_TOKEN) as server:
        yield server


@pytest.fixture
def service(tmp_path: Path, database_url: str, slack: SlackServer) -> Iterator[ServeProcess]:
    write_model(tmp_path / "model", pushed_flows(), pushed_rules())
    env = serve_env(database_url, slack.base_url)
    process = ServeProcess(tmp_path / "model", env, tmp_path / "serve.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def push(service: ServeProcess, flow: str, value: float) -> None:
    answer = httpx.post(
        f"{service.url}/api/v1/flows/{flow}/signals/backlog", json={"value": value}, headers=AUTH, timeout=10
    )
    assert answer.status_code == 202, answer.text


def test_kill_9_during_evaluation_and_delivery_loses_and_duplicates_nothing(
    service: ServeProcess, slack: SlackServer, engine: Engine
) -> None:
    rng = random.Random(8)
    high = dict.fromkeys(PUSHED, False)
    pushes = dict.fromkeys(PUSHED, 0)
    firings = dict.fromkeys(PUSHED, 0)
    service.start()
    for round_ in range(6):
        flow = PUSHED[round_ % len(PUSHED)]
        high[flow] = not high[flow]
        firings[flow] += high[flow]
        pushes[flow] += 1
        if round_ % 2:
            # During delivery: Slack stores the post, then flowhealth dies before it hears back.
            slack.slack.post_delay = 2.0
            before = len(slack.slack.messages)
            push(service, flow, THRESHOLD * 3 if high[flow] else 0)
            wait_until(lambda b=before: len(slack.slack.messages) > b, 15, "a Slack post in flight")  # type: ignore[misc]
        else:
            # During evaluation: it runs every 0.2 s, so a random moment lands before, in or after a cycle.
            push(service, flow, THRESHOLD * 3 if high[flow] else 0)
            time.sleep(rng.uniform(0.0, 0.5))
        service.kill9()
        slack.slack.post_delay = 0.0
        service.start()

    def settled() -> bool:
        rows = outbox(engine)
        with Session(engine) as session:
            states = {s.rule: s.state for s in session.exec(select(AlertState)).all()}
        expected = {f"{f}-backlog": "firing" if high[f] else "inactive" for f in PUSHED}
        return (
            bool(rows)
            and all(r.delivered_at is not None for r in rows)
            and all(states.get(rule, "inactive") == state for rule, state in expected.items())
        )

    wait_until(settled, 25, "every notification delivered and every alert in its final state")
    rows = outbox(engine)
    sent = slack_keys(slack.slack)
    assert [key for key, n in sent.items() if n > 1] == [], "a notification reached Slack twice"
    assert posting_keys(rows) <= set(sent), "a notification never reached Slack"
    assert set(sent) <= {r.dedup_key for r in rows}
    assert replies_follow_parents(slack.slack)
    assert delivered_in_order(rows)
    with Session(engine) as session:
        for flow in PUSHED:
            state = session.get(AlertState, (f"{flow}-backlog", "{}"))
            assert (state.incident if state else 0) == firings[flow], f"{flow} fired a different number of times"
            samples = session.exec(
                select(func.count()).select_from(Sample).where(Sample.flow == flow, Sample.signal == "backlog")
            ).one()
            assert samples == pushes[flow], f"{flow}: every acknowledged push is one sample, no more, no less"


def test_kill_9_during_trace_ingestion_keeps_every_acknowledged_span_once(
    service: ServeProcess, engine: Engine
) -> None:
    batches = [
        request([business("shop", "placed", f"O-{b}-{i}", 1_767_600_000 + i) for i in range(50)]).SerializeToString()
        for b in range(24)
    ]
    acked: set[int] = set()
    lock = threading.Lock()
    service.start()
    url = f"{service.url}/v1/traces"

    def export(indexes: list[int]) -> None:
        for index in indexes:
            try:
                answer = httpx.post(url, content=batches[index], headers=PROTOBUF, timeout=10)
            except httpx.HTTPError:
                return  # the process died under us; the exporter keeps the batch for later
            if answer.status_code == 200:
                with lock:
                    acked.add(index)

    threads = [threading.Thread(target=export, args=(list(range(t, len(batches), 4)),)) for t in range(4)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acked) >= 4, 20, "the first exports acknowledged")
    service.kill9()  # exports are in flight on three other connections
    for thread in threads:
        thread.join(15)
    acknowledged_before = set(acked)
    assert len(acknowledged_before) < len(batches), "the kill came too late to hit ingestion"
    with engine.connect() as conn:
        # Acknowledged spans are folded into journeys or still wait in the inbox: both are kept.
        stored = conn.execute(text("SELECT count(*) FROM journey WHERE flow = 'orders'")).scalar_one()
        bodies = conn.execute(text("SELECT body FROM span_inbox")).scalars()
        waiting = sum(spans_in(body) for body in bodies)
    assert stored + waiting >= 50 * len(acknowledged_before), "an acknowledged export was lost"

    service.start()
    # The exporter retries what was not acknowledged; a collector may also redeliver what was.
    for index in range(len(batches)):
        answer = httpx.post(url, content=batches[index], headers=PROTOBUF, timeout=10)
        assert answer.status_code == 200, answer.text

    def folded() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM journey WHERE flow = 'orders'")).scalar_one())

    wait_until(lambda: folded() == 50 * len(batches), 20, "every span folded into its journey")
    with engine.connect() as conn:
        journeys = conn.execute(text("SELECT count(*) FROM journey WHERE flow = 'orders'")).scalar_one()
        assert conn.execute(text("SELECT count(*) FROM span_inbox")).scalar_one() == 0
        counted = conn.execute(
            text("SELECT coalesce(sum(count), 0) FROM journey_count WHERE flow = 'orders'")
        ).scalar_one()
    assert journeys == 50 * len(batches)
    assert counted == 0, "a redelivered span was counted again (as a duplicate or retry)"
    metrics = httpx.get(f"{service.url}/metrics", timeout=10).text
    assert 'flowhealth_trace_spans_total{outcome="redelivered"}' in metrics
