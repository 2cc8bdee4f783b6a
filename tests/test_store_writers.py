"""Writers of the SQLite state database take turns in arrival order, and nobody holds the turn
while waiting on something else (the evaluation cycle's evidence queries)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.engine import Engine

from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.payload import Links
from flowhealth.clock import FakeClock
from flowhealth.evidence import EvidenceTable
from flowhealth.metrics import Metrics
from flowhealth.store.checkpoints import Checkpoints
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.sqlite_writers import SerializedWriters
from tests.support.models import orders_flow, write_model


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE log (writer TEXT)"))
    yield engine
    engine.dispose()


def test_a_steady_stream_of_writes_does_not_starve_an_occasional_writer(engine: Engine) -> None:
    # Back-to-back transactions with no pause between them: SQLite's busy handler alone lets the
    # occasional writer sleep through every tiny gap until the stream stops.
    committed = 0
    started = threading.Event()
    stop = threading.Event()

    def stream() -> None:
        nonlocal committed
        while not stop.is_set() and committed < 500:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO log VALUES ('stream')"))
                stop.wait(0.01)  # a transaction that takes a while
            committed += 1
            if committed == 3:
                started.set()

    thread = threading.Thread(target=stream)
    thread.start()
    try:
        assert started.wait(10)
        before = committed
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO log VALUES ('occasional')"))
        after = committed
    finally:
        stop.set()
        thread.join()
    # It waited for the transaction in progress (and at most one that began as it arrived), not the stream.
    assert after - before <= 2, f"the stream committed {after - before} transactions while the writer waited"


def test_a_write_that_fails_gives_its_turn_back(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SerializedWriters, "lock_timeout", 2.0)  # a kept turn fails the next writer fast
    with pytest.raises(Exception, match="no such table"), engine.begin() as conn:
        conn.execute(text("INSERT INTO missing VALUES (1)"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO log VALUES ('next')"))
        conn.execute(text("UPDATE log SET writer = 'next writer'"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT writer FROM log")).scalars().all() == ["next writer"]


def test_another_process_still_meets_sqlites_own_lock(engine: Engine, tmp_path: Path) -> None:
    # The turn is per process; a second process (a CLI next to the service) is kept out by SQLite.
    other = sqlite3.connect(tmp_path / "state.db", timeout=0.2)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO log VALUES ('service')"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO log VALUES ('cli')")
    other.execute("INSERT INTO log VALUES ('cli')")
    other.commit()
    other.close()
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT writer FROM log")).scalars()) == ["cli", "service"]


RULES = """
rules:
  orders-late:
    flow: orders
    signal: delay
    above: 15m
    severity: critical
    summary: "Oldest order waits {{ value | duration }}"
    business_impact: Orders are not shipped.
    runbook: orders-late
    evidence:
      connection: shop_db
      query: SELECT 1 AS order_number
"""


def test_evidence_queries_run_before_the_cycle_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An evidence query may take up to its timeout on a struggling system; if the cycle held the
    # state database's write turn meanwhile, probe results and spans would wait on that system too.
    monkeypatch.setattr(SerializedWriters, "lock_timeout", 1.0)
    model = write_model(tmp_path / "m", orders_flow("sqlite://", "SELECT 1"), RULES)
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    clock = FakeClock()
    writes_during_evidence: list[str] = []

    def evidence(rule_id: str, now: Any) -> EvidenceTable:
        def probe_result() -> None:
            try:
                with transaction(engine) as session:
                    record_readings(session, "orders", "delay", [Reading(1.0)], clock.now(), "sql")
                writes_during_evidence.append("stored")
            except Exception as exc:
                writes_during_evidence.append(f"waited and failed: {exc}")

        writer = threading.Thread(target=probe_result)  # another thread of the service, meanwhile
        writer.start()
        writer.join()
        return EvidenceTable(columns=["order_number"], rows=[["SO-1"]])

    evaluator = Evaluator(
        model,
        engine,
        clock,
        Metrics(CollectorRegistry()),
        IncidentManager(model, Links("http://fh.test", "http://grafana.test"), evidence),
    )
    with transaction(engine) as session:
        record_readings(session, "orders", "delay", [Reading(timedelta(hours=1).total_seconds())], clock.now(), "sql")
    transitions = evaluator.evaluate()

    assert [t.event for t in transitions] == ["firing"]
    assert writes_during_evidence == ["stored"]
    engine.dispose()


def test_commits_leave_the_log_to_the_checkpointer(engine: Engine, tmp_path: Path) -> None:
    # Copying the write-ahead log into the database file was the work of whichever commit passed
    # 1,000 pages: a receiver's request waited for it. Commits now leave it to the checkpointer.
    database = tmp_path / "state.db"
    before = database.stat().st_size
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO log VALUES (?)", [("x" * 500,)] * 10_000)  # ~1,300 pages
    assert database.stat().st_size == before  # everything is still in the log only

    Checkpoints(engine, every=0).maybe()
    assert database.stat().st_size > before + 4_000_000
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log")).scalar_one() == 10_000
