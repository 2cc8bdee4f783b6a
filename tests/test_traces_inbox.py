"""The span inbox: the receiver answers once a request's events are durable; journeys follow, once each."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from flowhealth.clock import FakeClock
from flowhealth.errors import StoreError
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import init_schema
from flowhealth.store.migrate import head_revision, schema_version
from flowhealth.traces import ingest
from flowhealth.traces import journeys as journeys_module
from flowhealth.traces.convention import StageEvent
from flowhealth.traces.decode import JSON, PROTOBUF
from flowhealth.traces.ingest import FOLD_ROWS
from tests.support.models import write_model
from tests.support.otlp import STUCK_RULE, TRACES_FLOW, business, request, serve
from tests.support.schema import upgrade_to


def build(tmp_path: Path, clock: FakeClock, database_url: str | None = None) -> Runtime:
    model = write_model(tmp_path / "m", TRACES_FLOW, STUCK_RULE)
    settings = Settings(database_url=database_url or f"sqlite:///{tmp_path / 'state.db'}")
    return Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})


def journeys(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {str(e): str(s) for e, s in conn.execute(text("SELECT entity_id, last_stage FROM journey"))}


def waiting(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM span_inbox")).scalar_one())


def test_spans_acknowledged_before_a_crash_are_folded_after_the_restart(tmp_path: Path, clock: FakeClock) -> None:
    first = build(tmp_path, clock)
    first.traces.close()  # the process dies right after answering: its folder never runs
    t0 = clock.now().timestamp()
    body = request([business("shop", "placed", "O-1", t0), business("middleware", "exported", "O-1", t0 + 5)])
    answer = first.traces.accept_body(PROTOBUF, body.SerializeToString())
    assert (answer.accepted, answer.rejected) == (2, 0)
    assert waiting(first.engine) == 1 and journeys(first.engine) == {}

    restarted = build(tmp_path, clock)
    restarted.traces.refresh()  # the scheduler's first trace refresh folds what is waiting
    assert journeys(restarted.engine) == {"O-1": "exported"}
    assert waiting(restarted.engine) == 0
    accepted = restarted.registry.get_sample_value("flowhealth_trace_spans_total", {"outcome": "accepted"})
    assert accepted == 2.0
    restarted.traces.refresh()  # folded once: nothing is counted again
    assert restarted.registry.get_sample_value("flowhealth_trace_spans_total", {"outcome": "accepted"}) == 2.0


def test_the_folder_folds_without_waiting_for_a_refresh(tmp_path: Path, clock: FakeClock) -> None:
    runtime = build(tmp_path, clock)
    try:
        t0 = clock.now().timestamp()
        runtime.traces.accept_body(PROTOBUF, request([business("shop", "placed", "O-2", t0)]).SerializeToString())
        deadline = time.monotonic() + 10  # the folder runs on its own thread, in real time
        while waiting(runtime.engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert journeys(runtime.engine) == {"O-2": "placed"}
    finally:
        runtime.traces.close()


def placed(runtime: Runtime, order: str) -> None:
    at = runtime.clock.now().timestamp()
    runtime.traces.accept_body(PROTOBUF, request([business("shop", "placed", order, at)]).SerializeToString())


def test_requests_arriving_during_a_fold_wait_for_the_folders_next_pass(tmp_path: Path, clock: FakeClock) -> None:
    # Under a steady stream, chasing each newcomer folded one request at a time, and each small
    # fold rewrote the journeys the previous one had just written: half again the CPU per span.
    runtime = build(tmp_path, clock)
    service = runtime.traces
    service.close()  # this test runs the folder's pass itself
    for n in range(3):
        placed(runtime, f"O-{n}")
    fold = service.fold_waiting
    arrivals = iter(["O-late"])

    def fold_while_a_request_arrives(limit: int = FOLD_ROWS) -> int:
        folded = fold(limit)
        for order in arrivals:  # answered while the group was being folded
            placed(runtime, order)
        return folded

    service.fold_waiting = fold_while_a_request_arrives  # type: ignore[method-assign]
    service.fold_arrived()
    assert set(journeys(runtime.engine)) == {"O-0", "O-1", "O-2"}
    assert waiting(runtime.engine) == 1  # left for the next pass, folded with whatever comes next
    service.fold_arrived()
    assert waiting(runtime.engine) == 0 and "O-late" in journeys(runtime.engine)


def test_a_backlog_is_folded_in_full_groups_back_to_back(tmp_path: Path, clock: FakeClock) -> None:
    runtime = build(tmp_path, clock)
    runtime.traces.close()
    for n in range(2 * FOLD_ROWS + 3):
        placed(runtime, f"O-{n}")
    runtime.traces.fold_arrived()
    assert waiting(runtime.engine) == 0 and len(journeys(runtime.engine)) == 2 * FOLD_ROWS + 3


def test_rejected_spans_are_answered_at_once_and_never_reach_the_inbox(tmp_path: Path, clock: FakeClock) -> None:
    runtime = build(tmp_path, clock)
    runtime.traces.close()
    body = request([business("shop", "nowhere", "O-3", clock.now().timestamp())]).SerializeToString()
    answer = runtime.traces.accept_body(PROTOBUF, body)
    assert (answer.accepted, answer.rejected) == (0, 1) and "unknown stage 'nowhere'" in answer.message
    assert waiting(runtime.engine) == 0


def test_a_database_at_0009_upgrades_with_its_journeys_and_gets_the_inbox(empty_engine: Engine) -> None:
    upgrade_to(empty_engine, "0009")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO journey (flow, entity_id, started_at, last_stage, last_at, last_outcome, updated_at,"
                " stages, spans) VALUES ('orders', 'O-9', 1.0, 'placed', 1.0, 'ok', 1.0, 'placed 1.0', 'k')"
            )
        )
    assert "span_inbox" not in inspect(empty_engine).get_table_names()

    init_schema(empty_engine)

    assert schema_version(empty_engine).current == head_revision()
    assert journeys(empty_engine) == {"O-9": "placed"}
    assert waiting(empty_engine) == 0


def test_events_waiting_as_json_from_before_0012_are_still_folded(tmp_path: Path, clock: FakeClock) -> None:
    runtime = build(tmp_path, clock)
    runtime.traces.close()
    t0 = clock.now().timestamp()
    events = [StageEvent("k1", "orders", "placed", "O-7", "order", "ok", "", t0)]
    with runtime.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO span_inbox (received_at, events) VALUES (:at, :events)"),
            {"at": t0, "events": json.dumps(events)},
        )
    runtime.traces.refresh()
    assert journeys(runtime.engine) == {"O-7": "placed"}
    assert waiting(runtime.engine) == 0


def test_a_gzip_export_acknowledged_before_a_crash_is_folded_after_the_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    first = build(tmp_path, clock)
    first.traces.close()
    body = request([business("shop", "placed", "O-8", clock.now().timestamp())]).SerializeToString()
    answer = first.traces.accept_body(PROTOBUF, body, gzip.compress(body))
    assert (answer.accepted, answer.rejected) == (1, 0)

    restarted = build(tmp_path, clock)
    restarted.traces.refresh()
    assert journeys(restarted.engine) == {"O-8": "placed"}
    assert waiting(restarted.engine) == 0


def test_a_json_export_acknowledged_before_a_crash_is_folded_after_the_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    # An OTLP/JSON body is kept in the inbox as protobuf; the restarted process reads it back.
    first = build(tmp_path, clock)
    first.traces.close()
    end = int(clock.now().timestamp() * 1e9)
    attributes = {"flowhealth.flow": "orders", "flowhealth.stage": "placed", "flowhealth.entity.id": "O-9"}
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "orders placed",
        "startTimeUnixNano": str(end - 1_000_000_000),
        "endTimeUnixNano": str(end),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
                "scopeSpans": [{"spans": [span]}],
            }
        ]
    }
    answer = first.traces.accept_body(JSON, json.dumps(body).encode())
    assert (answer.accepted, answer.rejected) == (1, 0)
    assert waiting(first.engine) == 1

    restarted = build(tmp_path, clock)
    restarted.traces.refresh()
    assert journeys(restarted.engine) == {"O-9": "placed"}
    assert waiting(restarted.engine) == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_folds_on_each_backend_add_up_counts_and_latencies_across_requests_and_restarts(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> None:
    first = build(tmp_path, clock, database_url)
    t0 = clock.now().timestamp()
    rejected = {"flowhealth_outcome": "rejected", "flowhealth_reason": "no stock"}
    bodies = [
        request([business("shop", "placed", "O-1", t0), business("shop", "placed", "O-2", t0, **rejected)]),
        request([business("middleware", "exported", "O-1", t0 + 5), business("shop", "placed", "O-3", t0, **rejected)]),
    ]
    for body in bodies:
        first.traces.accept_body(PROTOBUF, body.SerializeToString())
        first.traces.drain()  # one fold per request: the second adds to the first's counts
    first.traces.close()
    # Acknowledged by a process that died before folding: the next one reads the row's body.
    later = request(
        [business("middleware", "exported", "O-2", t0 + 9), business("shop", "placed", "O-2", t0, **rejected)]
    )
    first.traces.accept_body(PROTOBUF, later.SerializeToString())

    first.engine.dispose()

    restarted = build(tmp_path, clock, database_url)
    try:
        restarted.traces.refresh()
        with restarted.engine.connect() as conn:
            counts = conn.execute(text("SELECT measure, stage, reason, count FROM journey_count")).all()
            latency = conn.execute(text("SELECT from_stage, to_stage, count, total, max FROM journey_latency")).all()
            stages = dict(conn.execute(text("SELECT entity_id, stages FROM journey")).all())
        assert waiting(restarted.engine) == 0
    finally:
        restarted.traces.close()
        restarted.engine.dispose()
    assert [tuple(row) for row in counts] == [("rejections", "placed", "no stock", 3)]
    assert [tuple(row) for row in latency] == [("placed", "exported", 1, 5.0, 5.0)]
    assert sorted(stages) == ["O-1", "O-2", "O-3"]
    assert stages["O-2"].split()[0] == "exported"  # a rejection reaches no stage


def test_an_export_over_http_is_kept_and_folded_on_each_backend(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> None:
    # SQLite stores a small export on the event loop; PostgreSQL always on a worker thread.
    runtime = build(tmp_path, clock, database_url)
    t0 = clock.now().timestamp()
    body = request([business("shop", "placed", "O-1", t0), business("middleware", "exported", "O-1", t0 + 5)])
    try:
        with serve(runtime) as base:
            answer = httpx.post(
                f"{base}/v1/traces", content=body.SerializeToString(), headers={"Content-Type": PROTOBUF}
            )
        assert answer.status_code == 200
        runtime.traces.drain()
        assert journeys(runtime.engine) == {"O-1": "exported"}
        assert waiting(runtime.engine) == 0
    finally:
        runtime.traces.close()
        runtime.engine.dispose()


def fold_results(engine: Engine) -> tuple[list[tuple[object, ...]], ...]:
    with engine.connect() as conn:
        return tuple(
            [tuple(row) for row in conn.execute(text(sql))]
            for sql in (
                "SELECT entity_id, stages, spans, last_outcome FROM journey ORDER BY entity_id",
                "SELECT measure, stage, reason, minute, count FROM journey_count ORDER BY measure, stage, reason",
                "SELECT from_stage, to_stage, minute, count, total, max, buckets FROM journey_latency",
            )
        )


def test_a_fold_that_fails_between_its_parts_counts_every_span_once_when_tried_again(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a fold writes its journeys a few thousand at a time, so an export waits less for
    # the single writer; here two per transaction, and the second transaction fails once.
    monkeypatch.setattr(ingest, "FOLD_PART", 2)
    t0 = clock.now().timestamp()
    rejected = {"flowhealth_outcome": "rejected", "flowhealth_reason": "no stock"}
    spans = [business("shop", "placed", f"O-{i}", t0) for i in range(5)]
    spans += [business("middleware", "exported", f"O-{i}", t0 + i) for i in range(4)]
    spans += [business("shop", "placed", "O-9", t0, **rejected)]
    body = request(spans).SerializeToString()

    def folded(directory: Path, fail_part: int | None) -> Runtime:
        runtime = build(directory, clock)
        runtime.traces.close()  # no folder thread: the test folds
        runtime.traces.accept_body(PROTOBUF, body)
        calls = 0
        apply_grouped = journeys_module.apply_grouped

        def failing(*args: Any) -> journeys_module.Applied:
            nonlocal calls
            calls += 1
            applied = apply_grouped(*args)
            if calls == fail_part:  # as SQLite fails a write: the part's rows are written, not committed
                raise OperationalError("INSERT INTO journey ...", {}, sqlite3.OperationalError("disk I/O error"))
            return applied

        monkeypatch.setattr(journeys_module, "apply_grouped", failing)
        if fail_part is not None:
            with pytest.raises(StoreError):
                runtime.traces.fold_waiting()
            assert waiting(runtime.engine) == 1  # the request stays until all its journeys are written
        runtime.traces.drain()
        monkeypatch.setattr(journeys_module, "apply_grouped", apply_grouped)
        assert waiting(runtime.engine) == 0
        return runtime

    once = folded(tmp_path / "once", None)
    retried = folded(tmp_path / "retried", 2)
    assert fold_results(retried.engine) == fold_results(once.engine)
    assert len(fold_results(once.engine)[0]) == 6
    for runtime in (once, retried):
        assert runtime.registry.get_sample_value("flowhealth_trace_spans_total", {"outcome": "accepted"}) == 10.0
        assert runtime.registry.get_sample_value("flowhealth_trace_spans_total", {"outcome": "rejected"}) == 0.0
