"""flowhealth.testing: a fake clock, a notifier capturing typed notices, a probe registry; and old outbox rows."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, col, select

from flowhealth.alerting.notices import Note, Opened
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.outbox import enqueue
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import OutboxMessage
from flowhealth.testing import CapturingNotifier, FakeClock, metrics_registry, probe_registry
from tests.support.alerting_model import write_alerting_model


def build(tmp_path: Path) -> tuple[Runtime, CapturingNotifier, FakeClock]:
    clock, notifier = FakeClock(), CapturingNotifier()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    runtime = Runtime.build(
        settings,
        write_alerting_model(tmp_path / "m"),
        clock=clock,
        notifier=notifier,
        registry=metrics_registry(),
        environ={},
        pacing_clock=clock.monotonic,
    )
    return runtime, notifier, clock


def fire(runtime: Runtime) -> None:
    with transaction(runtime.engine) as session:
        record_readings(session, "orders", "delay", [Reading(1800)], runtime.clock.now(), "push")
    runtime.evaluator.evaluate()


def test_the_capturing_notifier_sees_typed_notices(tmp_path: Path) -> None:
    runtime, notifier, clock = build(tmp_path)
    fire(runtime)
    assert runtime.worker.run_once().delivered == 1
    assert notifier.notices == [Opened(at=clock.now())]
    [message] = notifier.to("#shop-alerts")
    assert message.view is not None and message.view.primary is not None
    assert message.view.primary.value_text == "30m"


def test_a_row_in_the_format_before_notices_is_still_delivered(tmp_path: Path) -> None:
    runtime, notifier, clock = build(tmp_path)
    fire(runtime)
    runtime.worker.run_once()
    view = notifier.messages[0].view
    assert view is not None
    # What older code wrote for an acknowledgement: the view (isoformat times) and a rendered line.
    legacy = {"view": json.loads(view.model_dump_json()), "thread_line": ":eyes: Acknowledged by alice.", "text": None}
    with transaction(runtime.engine) as session:
        enqueue(
            session,
            dedup_key="incident:1:99:update",
            thread_key="incident:1",
            kind="update",
            team="shop-team",
            channel="#shop-alerts",
            payload=json.dumps(legacy),
            now=clock.now(),
        )
    assert runtime.worker.run_once().delivered == 1
    assert notifier.messages[-1].notices == [Note(at=clock.now(), text=":eyes: Acknowledged by alice.")]
    assert notifier.messages[-1].view == view


def test_a_row_from_a_newer_version_waits_with_the_reason_and_is_not_dropped(tmp_path: Path) -> None:
    runtime, notifier, clock = build(tmp_path)
    with transaction(runtime.engine) as session:
        enqueue(
            session,
            dedup_key="x",
            thread_key="x",
            kind="post",
            team="shop-team",
            channel="#shop-alerts",
            payload=json.dumps({"version": 3}),
            now=clock.now(),
        )
    assert runtime.worker.run_once().retried == 1
    with Session(runtime.engine) as session:
        [row] = session.exec(select(OutboxMessage).where(col(OutboxMessage.dedup_key) == "x")).all()
    assert row.delivered_at is None and "schema version 3" in (row.last_error or "")
    assert notifier.deliveries == []


def test_probe_registry_replaces_only_the_kinds_named() -> None:
    def stand_in(spec: object, ctx: object, flow: str) -> object:
        raise AssertionError("not built here")

    registry = probe_registry(sql=stand_in)
    assert registry["sql"] is stand_in and registry["http"] is probe_registry()["http"]
