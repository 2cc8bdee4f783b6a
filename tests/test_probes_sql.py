"""The sql probe against real SQLite and PostgreSQL: values, labels, failures, timeouts, read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlmodel import Session

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.model import Model
from flowhealth.probes.base import Outcome
from flowhealth.probes.connections import ConnectionPools
from flowhealth.probes.registry import ProbeContext
from flowhealth.probes.runner import ProbeRunner
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.tables import ProbeState, SignalValue
from tests.support.models import orders_flow, write_model

LABELLED = """
      rejected:
        kind: rejections
        description: Rejections by reason.
        probe:
          kind: sql
          connection: shop_db
          query: "SELECT reason, COUNT(*) AS n FROM rejections GROUP BY reason ORDER BY reason"
          value_column: n
          label_columns: [reason]
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database holding the business tables a probe reads."""
    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE orders (id INTEGER PRIMARY KEY, placed_at FLOAT NOT NULL, exported BOOLEAN NOT NULL)")
        )
        conn.execute(text("CREATE TABLE rejections (id INTEGER PRIMARY KEY, reason VARCHAR(40) NOT NULL)"))
        conn.execute(
            text("INSERT INTO rejections (id, reason) VALUES (1, 'bad_vat'), (2, 'bad_vat'), (3, 'unknown_sku')")
        )
    engine.dispose()
    yield url


def make_runner(
    model: Model, tmp_path: Path, clock: FakeClock, environ: dict[str, str] | None = None
) -> tuple[ProbeRunner, Metrics, object]:
    state = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(state)
    metrics = Metrics(CollectorRegistry())
    runner = ProbeRunner(model, state, clock, metrics, ProbeContext(ConnectionPools(model.connections, environ or {})))
    return runner, metrics, state


def test_value_uses_the_probe_clock_as_now(target_url: str, tmp_path: Path, clock: FakeClock) -> None:
    now = clock.now().timestamp()
    engine = create_engine(target_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO orders VALUES (1, :a, false), (2, :b, false), (3, :c, true)"),
            {"a": now - 600, "b": now - 60, "c": now - 9000},
        )
    engine.dispose()
    model = write_model(
        tmp_path / "m",
        orders_flow(target_url, "SELECT COALESCE(:now - MIN(placed_at), 0) FROM orders WHERE NOT exported"),
    )
    runner, metrics, state = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    runner.close()
    assert result.outcome is Outcome.SUCCESS
    assert result.readings[0].value == pytest.approx(600)
    assert (
        metrics.registry.get_sample_value(
            "flowhealth_probe_runs_total", {"flow": "orders", "signal": "delay", "kind": "sql", "outcome": "success"}
        )
        == 1
    )
    with Session(state) as session:  # type: ignore[arg-type]
        assert session.get(SignalValue, ("orders", "delay", "{}")).value == pytest.approx(600)  # type: ignore[union-attr]


def test_rows_with_label_columns_become_one_sample_each(target_url: str, tmp_path: Path, clock: FakeClock) -> None:
    model = write_model(tmp_path / "m", orders_flow(target_url, "SELECT 0", extra=LABELLED))
    runner, _, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "rejected")
    runner.close()
    assert result.outcome is Outcome.SUCCESS
    assert {r.labels["reason"]: r.value for r in result.readings} == {"bad_vat": 2, "unknown_sku": 1}


def test_unreachable_database_is_an_error_and_the_value_becomes_unknown(tmp_path: Path, clock: FakeClock) -> None:
    ok_db = tmp_path / "ok.db"
    sqlite3.connect(ok_db).close()
    model = write_model(tmp_path / "m", orders_flow("${SHOP_URL}", "SELECT 42"))
    runner, _, state = make_runner(model, tmp_path, clock, {"SHOP_URL": f"sqlite:///{ok_db}"})
    assert runner.run("orders", "delay").outcome is Outcome.SUCCESS
    runner.close()
    # The same signal, now pointing at a PostgreSQL port nobody listens on.
    runner, _metrics, _ = make_runner(model, tmp_path, clock, {"SHOP_URL": "postgresql://nobody@127.0.0.1:1/none"})
    result = runner.run("orders", "delay")
    runner.close()
    assert result.outcome is Outcome.ERROR
    assert "cannot connect" in (result.error or "")
    with Session(state) as session:  # type: ignore[arg-type]
        assert session.get(SignalValue, ("orders", "delay", "{}")).value is None  # type: ignore[union-attr]
        probe = session.get(ProbeState, ("orders", "delay"))
        assert probe is not None and probe.consecutive_failures == 1 and probe.last_outcome == "error"
        assert probe.last_success_at is not None  # the earlier success is remembered


def test_missing_environment_variable_is_an_error_outcome_naming_it(tmp_path: Path, clock: FakeClock) -> None:
    model = write_model(tmp_path / "m", orders_flow("${SHOP_URL}", "SELECT 1"))
    runner, _, _ = make_runner(model, tmp_path, clock, {})
    result = runner.run("orders", "delay")
    assert result.outcome is Outcome.ERROR
    assert result.error == "connection 'shop_db': environment variable SHOP_URL is not set"


def test_query_timeout_on_postgresql(postgres_url: str, tmp_path: Path, clock: FakeClock) -> None:
    model = write_model(tmp_path / "m", orders_flow(postgres_url, "SELECT 1 FROM pg_sleep(5)", timeout="1s"))
    runner, metrics, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    runner.close()
    assert result.outcome is Outcome.TIMEOUT
    assert result.duration < 4
    assert (
        metrics.registry.get_sample_value(
            "flowhealth_probe_runs_total", {"flow": "orders", "signal": "delay", "kind": "sql", "outcome": "timeout"}
        )
        == 1
    )


def test_query_timeout_on_sqlite_interrupts_the_query(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "slow.db"
    sqlite3.connect(db).close()
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c"
    model = write_model(tmp_path / "m", orders_flow(f"sqlite:///{db}", slow, timeout="1s"))
    runner, _, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    runner.close()
    assert result.outcome is Outcome.TIMEOUT
    assert result.duration < 4


def test_probe_cannot_write_to_the_database_it_reads(target_url: str, tmp_path: Path, clock: FakeClock) -> None:
    model = write_model(tmp_path / "m", orders_flow(target_url, "DELETE FROM rejections"))
    runner, _, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    runner.close()
    assert result.outcome is Outcome.ERROR
    engine = create_engine(target_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM rejections")).scalar() == 3
    engine.dispose()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 'many'", "the value is 'many', not a number"),
        ("SELECT NULL", "the value is NULL"),
        ("SELECT 1 WHERE 1 = 0", "expected one row, the query returned 0"),
    ],
)
def test_answers_that_are_no_number_are_invalid(tmp_path: Path, clock: FakeClock, query: str, message: str) -> None:
    db = tmp_path / "x.db"
    sqlite3.connect(db).close()
    model = write_model(tmp_path / "m", orders_flow(f"sqlite:///{db}", query))
    runner, _, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    assert (result.outcome, result.error) == (Outcome.INVALID, message)


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("SELECT COUNT(*) FROM rejections WHERE reason LIKE 'bad%'", 2.0),  # a literal % reaches the database as %
        ("SELECT COUNT(*) FROM rejections WHERE :now > 0 AND :now < :now + 1", 3.0),  # :now, more than once
        ("SELECT COUNT(*) FROM rejections WHERE reason = 'a::b'", 0.0),
    ],
)
def test_query_text_is_sent_as_written(
    target_url: str, tmp_path: Path, clock: FakeClock, query: str, value: float
) -> None:
    model = write_model(tmp_path / "m", orders_flow(target_url, query))
    runner, _, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    runner.close()
    assert (result.outcome, result.error, [r.value for r in result.readings]) == (Outcome.SUCCESS, None, [value])


def test_a_parameter_other_than_now_is_an_error_naming_it(target_url: str, tmp_path: Path, clock: FakeClock) -> None:
    model = write_model(tmp_path / "m", orders_flow(target_url, "SELECT COUNT(*) FROM rejections WHERE id = :id"))
    runner, _, _ = make_runner(model, tmp_path, clock)
    result = runner.run("orders", "delay")
    runner.close()
    assert result.outcome is Outcome.ERROR
    assert "id" in (result.error or "")


def test_connections_killed_by_the_server_are_replaced_within_the_run(
    postgres_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    model = write_model(tmp_path / "m", orders_flow(postgres_url, "SELECT 7"))
    runner, _, _ = make_runner(model, tmp_path, clock)
    assert runner.run("orders", "delay").outcome is Outcome.SUCCESS
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a database restart does to every pooled connection
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    results = [runner.run("orders", "delay") for _ in range(3)]
    runner.close()
    assert [(r.outcome, r.readings[0].value if r.readings else None) for r in results] == [(Outcome.SUCCESS, 7.0)] * 3
