"""Journeys from spans, in process: joins across traces, duplicates, counts, expiry, alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.clock import FakeClock
from flowhealth.errors import ModelError
from flowhealth.evidence import EvidenceTable
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.journey_tables import Journey
from flowhealth.store.tables import OutboxMessage, SignalValue
from flowhealth.store.types import labels_of
from tests.support.models import write_model
from tests.support.otlp import STUCK_RULE, TRACES_FLOW, Span, business, request
from tests.support.schema import downgrade_to, upgrade_to


@pytest.fixture
def runtime(tmp_path: Path, clock: FakeClock) -> Runtime:
    model = write_model(tmp_path / "m", TRACES_FLOW, STUCK_RULE)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="http://fh.test")
    return Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})


def values(runtime: Runtime, signal: str) -> dict[str, float | None]:
    runtime.traces.refresh()
    with Session(runtime.engine) as session:
        rows = session.exec(select(SignalValue).where(SignalValue.signal == signal)).all()
    return {",".join(f"{k}={v}" for k, v in sorted(labels_of(r.labels).items())): r.value for r in rows}


def test_a_journey_across_three_traces_yields_its_latency(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    spans = [
        business("shop", "placed", "O-1001", t0),
        business("middleware", "exported", "O-1001", t0 + 30),
        # The ERP connector is mapped by service and span name; it knows the order as erp.ref.
        Span("erp-connector", "SalesOrder.create", t0 + 95, {"erp.ref": "O-1001"}),
    ]
    assert len({s.trace_id for s in spans}) == 3
    result = runtime.traces.ingest(request(spans))
    assert (result.accepted, result.rejected) == (3, 0)
    assert values(runtime, "latency") == {"": 95.0}
    assert values(runtime, "export_latency") == {"": 30.0}
    assert values(runtime, "in_flight") == {"": 0.0}
    histogram = {"flow": "orders", "from_stage": "placed", "to_stage": "accepted"}
    assert runtime.registry.get_sample_value("flowhealth_journey_stage_latency_seconds_count", histogram) == 1.0
    assert runtime.registry.get_sample_value("flowhealth_journey_stage_latency_seconds_sum", histogram) == 95.0
    p95 = values(runtime, "latency_p95")[""]
    assert p95 is not None and 60 < p95 <= 95  # from histogram buckets, never above the max seen


def test_stages_arriving_out_of_order_still_measure_from_placed(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    runtime.traces.ingest(request([Span("erp-connector", "SalesOrder.create", t0 + 60, {"erp.ref": 42})]))
    runtime.traces.ingest(request([business("shop", "placed", "42", t0)]))
    assert values(runtime, "latency") == {"": 60.0}


def test_redelivered_spans_change_nothing_even_after_a_restart(
    runtime: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    t0 = clock.now().timestamp()
    payload = request([business("shop", "placed", "O-1", t0), business("middleware", "exported", "O-1", t0 + 5)])
    assert runtime.traces.ingest(payload).accepted == 2
    before = {s: values(runtime, s) for s in ("in_flight", "duplicates", "export_latency")}
    again = runtime.traces.ingest(payload)
    assert (again.accepted, again.redelivered) == (0, 2)
    restarted = Runtime.build(runtime.settings, runtime.model, clock=clock, registry=CollectorRegistry(), environ={})
    assert restarted.traces.ingest(payload).redelivered == 2
    assert {s: values(restarted, s) for s in before} == before
    assert before["duplicates"] == {}


def test_the_same_order_twice_at_a_stage_is_a_duplicate(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    runtime.traces.ingest(request([business("shop", "placed", "O-7", t0)]))
    runtime.traces.ingest(request([business("middleware", "exported", "O-7", t0 + 1)]))
    runtime.traces.ingest(request([business("middleware", "exported", "O-7", t0 + 2)]))  # a second export
    assert values(runtime, "duplicates") == {"stage=exported": 1.0}


def test_rejections_retries_and_manual_fixes_are_counted_by_stage(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    erp_error = Span("erp-connector", "SalesOrder.create", t0 + 3, {"erp.ref": "O-2"}, error="material blocked")
    runtime.traces.ingest(
        request(
            [
                business("shop", "placed", "O-2", t0),
                business("middleware", "exported", "O-2", t0 + 1, flowhealth_outcome="retried"),
                business("middleware", "exported", "O-2", t0 + 2),
                erp_error,
                business("shop", "placed", "O-3", t0, flowhealth_outcome="rejected", flowhealth_reason="no stock"),
                business("erp", "accepted", "O-2", t0 + 600, flowhealth_outcome="manual"),
            ]
        )
    )
    assert values(runtime, "rejections") == {
        "reason=material blocked,stage=accepted": 1.0,
        "reason=no stock,stage=placed": 1.0,
    }
    assert values(runtime, "retries") == {"stage=exported": 1.0}
    assert values(runtime, "interventions") == {"stage=accepted": 1.0}
    assert values(runtime, "latency") == {"": 600.0}  # the manual fix completed the journey


def test_spans_of_no_flow_are_counted_and_explained(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    result = runtime.traces.ingest(
        request(
            [
                Span("shop", "GET /cart", t0),
                Span(
                    "shop",
                    "x",
                    t0,
                    {"flowhealth.flow": "orders", "flowhealth.stage": "paid", "flowhealth.entity.id": "1"},
                ),
                Span("shop", "y", t0, {"flowhealth.flow": "returns", "flowhealth.stage": "placed"}),
                Span("erp-connector", "SalesOrder.create", t0, {}),
            ]
        )
    )
    assert (result.accepted, result.rejected) == (0, 4)
    assert "service 'shop' span 'GET /cart'" in result.message
    assert "unknown stage 'paid'" in result.message


def test_a_signal_without_spans_has_no_value(runtime: Runtime) -> None:
    assert values(runtime, "in_flight") == {}
    assert values(runtime, "latency") == {}


def test_a_stuck_order_becomes_an_alert_naming_the_order(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    runtime.traces.ingest(
        request(
            [
                business("shop", "placed", "O-STUCK", t0),
                business("middleware", "exported", "O-STUCK", t0 + 10),
                business("shop", "placed", "O-FINE", t0 + 20),
                Span("erp-connector", "SalesOrder.create", t0 + 40, {"erp.ref": "O-FINE"}),
            ]
        )
    )
    events = []
    for _ in range(14):  # 2h20m in 10-minute steps, evaluating like the scheduler does
        clock.advance(timedelta(minutes=10))
        runtime.traces.refresh()
        events += [t.event for t in runtime.evaluator.evaluate()]
    assert events == ["pending", "firing"]
    with Session(runtime.engine) as session:
        [message] = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    view = json.loads(message.payload)["view"]
    assert message.kind == "open"
    payload = view["alerts"][0]
    assert payload["summary"].startswith("An order waits 2h")
    rows = payload["evidence"]["rows"]
    assert [row[:3] for row in rows] == [["O-STUCK", "exported", "ok"]]
    assert payload["evidence"]["columns"][0] == "order"


def test_completed_journeys_fold_into_aggregates_and_abandoned_ones_expire(runtime: Runtime, clock: FakeClock) -> None:
    t0 = clock.now().timestamp()
    runtime.traces.ingest(
        request(
            [
                business("shop", "placed", "O-DONE", t0),
                business("erp", "accepted", "O-DONE", t0 + 50),
                business("shop", "placed", "O-LOST", t0),
            ]
        )
    )
    clock.advance(timedelta(minutes=11))  # past keep_completed (10m)
    assert values(runtime, "latency") == {"": 50.0}  # the latency outlives the journey
    assert journeys(runtime) == ["O-LOST"]
    clock.advance(timedelta(days=1))  # past the horizon
    assert values(runtime, "in_flight") == {"": 0.0}
    assert journeys(runtime) == []
    assert runtime.registry.get_sample_value("flowhealth_journeys_expired_total", {"flow": "orders"}) == 1.0


def journeys(runtime: Runtime) -> list[str]:
    with Session(runtime.engine) as session:
        return sorted(j.entity_id for j in session.exec(select(Journey)).all())


def test_trace_signals_are_checked_against_the_flow_stages(tmp_path: Path) -> None:
    broken = TRACES_FLOW.replace(
        "measure: latency, from: placed, to: exported", "measure: latency, from: placed, to: shipped"
    )
    broken = broken.replace("probe: {kind: trace, measure: in_flight}", "probe: {kind: trace, measure: latency}")
    with pytest.raises(ModelError) as caught:
        write_model(tmp_path / "m", broken)
    messages = [f"{issue.field}: {issue.message}" for issue in caught.value.issues]
    assert (
        "flows.orders.signals.export_latency.probe.to: unknown stage 'shipped' (stages: placed, exported, accepted)"
        in messages
    )
    assert "flows.orders.signals.in_flight.probe.measure: a latency trace signal must be of kind delay" in messages
    assert all(issue.path.endswith("flows.yaml") and issue.line > 1 for issue in caught.value.issues)


def test_a_trace_signal_needs_a_traces_block(tmp_path: Path) -> None:
    without = TRACES_FLOW[: TRACES_FLOW.index("    traces:")]
    with pytest.raises(ModelError, match="needs a `traces` block"):
        write_model(tmp_path / "m", without)


def test_journeys_on_each_state_backend(tmp_path: Path, clock: FakeClock, state_engine: Engine) -> None:
    model = write_model(tmp_path / "m", TRACES_FLOW, STUCK_RULE)
    settings = Settings(database_url="sqlite://", public_url="http://fh.test")
    runtime = Runtime.build(settings, model, clock=clock, engine=state_engine, registry=CollectorRegistry(), environ={})
    t0 = clock.now().timestamp()
    payload = request(
        [
            business("shop", "placed", "O-1", t0),
            business("shop", "placed", "O-2", t0, flowhealth_outcome="rejected", flowhealth_reason="no stock"),
            Span("erp-connector", "SalesOrder.create", t0 + 75, {"erp.ref": "O-1"}),
        ]
    )
    assert runtime.traces.ingest(payload).accepted == 3
    assert runtime.traces.ingest(payload).redelivered == 3
    assert values(runtime, "latency") == {"": 75.0}
    assert values(runtime, "in_flight") == {"": 1.0}
    assert values(runtime, "rejections") == {"reason=no stock,stage=placed": 1.0}
    assert runtime.traces.evidence("orders", "oldest") == EvidenceTable(
        columns=["order", "last stage", "outcome", "waiting"],
        rows=[["O-2", "placed", "rejected: no stock", "0s"]],
    )


def test_a_journey_half_way_at_0012_keeps_its_stage_times_through_the_upgrade(
    empty_engine: Engine, tmp_path: Path, clock: FakeClock
) -> None:
    # Before 0013 stage times were written as a float's repr; the upgrade rewrites them as
    # microseconds, and the journey's next stage measures its latency from the time it had.
    t0 = clock.now().timestamp()
    upgrade_to(empty_engine, "0012")
    insert_journeys(
        empty_engine, {"id": "O-7", "t": t0, "stage": "placed", "done": None, "stages": f"placed {t0 + 0.25!r}"}
    )
    runtime = runtime_on(empty_engine, tmp_path, clock)  # migrates to the head revision
    try:
        with empty_engine.connect() as conn:
            stages = conn.execute(text("SELECT stages FROM journey")).scalar_one()
        assert stages == f"placed {round((t0 + 0.25) * 1e6)}"
        runtime.traces.ingest(request([business("middleware", "exported", "O-7", t0 + 30.75)]))
        assert values(runtime, "export_latency") == {"": pytest.approx(30.5, abs=1e-6)}
    finally:
        runtime.stop()
        runtime.engine.dispose()

    downgrade_to(empty_engine, "0012")
    with empty_engine.connect() as conn:
        downgraded = conn.execute(text("SELECT stages FROM journey")).scalar_one().split()
    assert downgraded[0::2] == ["placed", "exported"]
    assert [float(at) for at in downgraded[1::2]] == pytest.approx([t0 + 0.25, t0 + 30.75], abs=1e-6)


def test_journeys_at_0013_are_counted_and_expire_through_the_one_open_index(
    empty_engine: Engine, tmp_path: Path, clock: FakeClock
) -> None:
    # 0014 folds ix_journey_updated into ix_journey_open: an abandoned journey written before the
    # upgrade is still in flight after it, and still expires by its last update past the horizon.
    t0 = clock.now().timestamp()
    upgrade_to(empty_engine, "0013")
    insert_journeys(
        empty_engine,
        {"id": "O-LOST", "t": t0, "stage": "placed", "done": None, "stages": f"placed {round(t0 * 1e6)}"},
        {"id": "O-DONE", "t": t0, "stage": "accepted", "done": t0, "stages": f"accepted {round(t0 * 1e6)}"},
    )
    runtime = runtime_on(empty_engine, tmp_path, clock)  # migrates to the head revision
    try:
        assert journey_indexes(empty_engine) == {
            "ix_journey_open": ["flow", "completed_at", "started_at", "updated_at"]
        }
        assert values(runtime, "in_flight") == {"": 1.0}
        clock.advance(timedelta(days=1, minutes=1))  # past keep_completed and the horizon (1d)
        assert values(runtime, "in_flight") == {"": 0.0}
        assert journeys(runtime) == []
        assert runtime.registry.get_sample_value("flowhealth_journeys_expired_total", {"flow": "orders"}) == 1.0
    finally:
        runtime.stop()
        runtime.engine.dispose()

    downgrade_to(empty_engine, "0013")
    assert journey_indexes(empty_engine) == {
        "ix_journey_open": ["flow", "completed_at", "started_at"],
        "ix_journey_updated": ["flow", "updated_at"],
    }


def runtime_on(engine: Engine, tmp_path: Path, clock: FakeClock) -> Runtime:
    model = write_model(tmp_path / "m", TRACES_FLOW, STUCK_RULE)
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    return Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})


def insert_journeys(engine: Engine, *journeys: dict[str, object]) -> None:
    """Journeys of flow `orders` written as an older flowhealth left them (id, time, stage, completion, stages)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO journey (flow, entity_id, started_at, last_stage, last_at, last_outcome, completed_at,"
                " updated_at, stages, spans) VALUES ('orders', :id, :t, :stage, :t, 'ok', :done, :t, :stages, :key)"
            ),
            [{**journey, "key": f"span-{n}"} for n, journey in enumerate(journeys)],
        )


def journey_indexes(engine: Engine) -> dict[str, list[str]]:
    return {str(ix["name"]): [str(c) for c in ix["column_names"]] for ix in inspect(engine).get_indexes("journey")}


def test_latencies_of_several_flows_in_one_fold_add_up_across_folds(tmp_path: Path, clock: FakeClock) -> None:
    # One fold writes every flow's histograms together, merged with what earlier folds stored.
    returns = TRACES_FLOW.split("flows:\n", 1)[1].replace("  orders:\n", "  returns:\n", 1)
    returns = returns.split("      spans:\n", 1)[0]  # the ERP span mapping stays with orders
    model = write_model(tmp_path / "m", TRACES_FLOW + returns, STUCK_RULE)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    t0 = clock.now().timestamp()

    def returned(stage: str, entity: str, end: float) -> Span:
        attrs: dict[str, str | int] = {
            "flowhealth.flow": "returns",
            "flowhealth.stage": stage,
            "flowhealth.entity.id": entity,
        }
        return Span("shop", f"returns {stage}", end, attrs)

    try:
        runtime.traces.ingest(
            request(
                [
                    business("shop", "placed", "O-1", t0),
                    business("erp", "accepted", "O-1", t0 + 10),
                    returned("placed", "R-1", t0),
                    returned("accepted", "R-1", t0 + 20),
                ]
            )
        )
        runtime.traces.ingest(
            request([business("shop", "placed", "O-2", t0 + 1), business("erp", "accepted", "O-2", t0 + 31)])
        )
        runtime.traces.refresh()
        with Session(runtime.engine) as session:
            latest = {
                row.flow: row.value
                for row in session.exec(select(SignalValue).where(SignalValue.signal == "latency")).all()
            }
        assert latest == {"orders": 30.0, "returns": 20.0}
        with runtime.engine.connect() as conn:
            rows = conn.execute(text("SELECT flow, count, total, max FROM journey_latency ORDER BY flow")).all()
        assert [tuple(r) for r in rows] == [("orders", 2, 40.0, 30.0), ("returns", 1, 20.0, 20.0)]
    finally:
        runtime.stop()
