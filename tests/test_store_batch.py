"""The batch recorder: samples, current values and probe state from many results at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from flowhealth.store.batch import BatchRecorder, Result, Statements
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.samples import Reading
from flowhealth.store.tables import ProbeState, Sample, SignalValue

T0 = datetime(2026, 11, 23, 6, 0, 0, tzinfo=UTC)


def batches() -> list[list[Result]]:
    ok = "success"
    return [
        [
            Result("f", "plain", "sql", ok, [Reading(3.0)], T0, 0.01, None),
            Result("f", "labelled", "sql", ok, [Reading(1.0, {"r": "a"}), Reading(2.0, {"r": "b"})], T0, 0.02, None),
            Result("f", "failing", "sql", "timeout", [], T0, 5.0, "query did not finish within 5s"),
        ],
        [
            Result("f", "plain", "sql", ok, [Reading(4.0)], T0 + timedelta(seconds=5), 0.03, None),
            # "b" vanished: its series goes; a duplicate label set keeps the last reading
            Result(
                "f",
                "labelled",
                "sql",
                ok,
                [Reading(5.0, {"r": "a"}), Reading(6.0, {"r": "a"})],
                T0 + timedelta(seconds=5, microseconds=250),
                0.04,
                None,
            ),
            Result("f", "failing", "sql", "error", [], T0 + timedelta(seconds=5), 0.1, "boom"),
        ],
        [Result("f", "failing", "sql", "success", [Reading(None)], T0 + timedelta(seconds=10), 0.1, None)],
    ]


def stored(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    with transaction(engine) as session:
        columns = (Sample.flow, Sample.signal, Sample.labels, Sample.value, Sample.observed_at, Sample.source)
        order = (Sample.observed_at, Sample.signal, Sample.labels, Sample.id)
        samples = session.execute(select(*columns).order_by(*order)).all()  # type: ignore[call-overload]
        values = session.execute(select(SignalValue).order_by(SignalValue.signal, SignalValue.labels)).scalars().all()  # type: ignore[arg-type]
        states = session.execute(select(ProbeState).order_by(ProbeState.signal)).scalars().all()  # type: ignore[arg-type]
        return (
            [tuple(row) for row in samples],
            [(v.signal, v.labels, v.value, v.observed_at, v.source) for v in values],
            [
                (
                    s.signal,
                    s.last_outcome,
                    s.last_run_at,
                    s.last_success_at,
                    s.last_duration_seconds,
                    s.consecutive_failures,
                    s.last_error,
                )
                for s in states
            ],
        )


def record_all(engine: Engine, recorder: BatchRecorder) -> None:
    for batch in batches():
        with transaction(engine) as session:
            recorder.write(session, batch)


def test_batches_store_samples_values_and_probe_state(state_engine: Engine) -> None:
    record_all(state_engine, BatchRecorder())
    samples, values, states = stored(state_engine)
    t5, t10 = T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)
    assert [(s[1], s[2], s[3], s[4]) for s in samples] == [
        ("failing", "{}", None, T0),
        ("labelled", '{"r":"a"}', 1.0, T0),
        ("labelled", '{"r":"b"}', 2.0, T0),
        ("plain", "{}", 3.0, T0),
        ("failing", "{}", None, t5),
        ("plain", "{}", 4.0, t5),
        ("labelled", '{"r":"a"}', 6.0, T0 + timedelta(seconds=5, microseconds=250)),
        ("failing", "{}", None, t10),
    ]
    assert values == [
        ("failing", "{}", None, t10, "sql"),
        ("labelled", '{"r":"a"}', 6.0, T0 + timedelta(seconds=5, microseconds=250), "sql"),
        ("plain", "{}", 4.0, t5, "sql"),
    ]
    assert states == [
        ("failing", "success", t10, t10, 0.1, 0, None),
        (
            "labelled",
            "success",
            T0 + timedelta(seconds=5, microseconds=250),
            T0 + timedelta(seconds=5, microseconds=250),
            0.04,
            0,
            None,
        ),
        ("plain", "success", t5, t5, 0.03, 0, None),
    ]


def test_sqlite_driver_statements_store_what_core_stores(tmp_path: Path) -> None:
    fast = make_engine(f"sqlite:///{tmp_path / 'fast.db'}")
    core = make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    for engine in (fast, core):
        init_schema(engine)
    record_all(fast, BatchRecorder())
    assert Statements(fast.dialect).raw is not None  # SQLite runs the driver's statements

    record_all(core, BatchRecorder(driver_sql=False))
    assert stored(fast) == stored(core)
    # The text stored for times is the same too (the evaluator and pruning compare it).
    with fast.connect() as a, core.connect() as b:
        query = "SELECT observed_at FROM sample ORDER BY observed_at, signal, labels"
        assert a.exec_driver_sql(query).all() == b.exec_driver_sql(query).all()
