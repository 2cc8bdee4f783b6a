"""Reconciling PSP settlements with the ERP ledger on PostgreSQL, with realistic settlement data."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlmodel import Session

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.probes.base import Outcome
from flowhealth.probes.connections import ConnectionPools
from flowhealth.probes.reconcile import compare
from flowhealth.probes.registry import ProbeContext
from flowhealth.probes.runner import ProbeRunner
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.records import latest_evidence
from tests.support.models import write_model

SETTLEMENTS = """
CREATE TABLE psp_settlements (payment_ref VARCHAR(20), kind VARCHAR(10), currency CHAR(3), amount NUMERIC(12,2), settled_at FLOAT);
CREATE TABLE erp_ledger (payment_ref VARCHAR(20), currency CHAR(3), amount NUMERIC(12,2), booked_at FLOAT);
-- Partial captures: one payment captured in two parts, booked once in full.
INSERT INTO psp_settlements VALUES ('PAY-1', 'capture', 'EUR', 60.00, :t), ('PAY-1', 'capture', 'EUR', 40.00, :t);
INSERT INTO erp_ledger VALUES ('PAY-1', 'EUR', 100.00, :t);
-- A refund nets against its capture.
INSERT INTO psp_settlements VALUES ('PAY-2', 'capture', 'GBP', 80.00, :t), ('PAY-2', 'refund', 'GBP', -30.00, :t);
INSERT INTO erp_ledger VALUES ('PAY-2', 'GBP', 50.00, :t);
-- Booked twice in the ERP (a duplicate): an amount mismatch of the full amount.
INSERT INTO psp_settlements VALUES ('PAY-3', 'capture', 'CHF', 25.00, :t);
INSERT INTO erp_ledger VALUES ('PAY-3', 'CHF', 25.00, :t), ('PAY-3', 'CHF', 25.00, :t);
-- Rounding within tolerance.
INSERT INTO psp_settlements VALUES ('PAY-4', 'capture', 'EUR', 19.99, :t);
INSERT INTO erp_ledger VALUES ('PAY-4', 'EUR', 19.994, :t);
-- Same reference, other currency on each side: never netted across currencies.
INSERT INTO psp_settlements VALUES ('PAY-5', 'capture', 'EUR', 10.00, :t);
INSERT INTO erp_ledger VALUES ('PAY-5', 'USD', 10.00, :t);
-- Settled but not booked yet (the ERP booking arrives late).
INSERT INTO psp_settlements VALUES ('PAY-6', 'capture', 'EUR', 300.00, :t);
"""

FLOWS = """
connections:
  psp: {url: "${PSP_URL}"}
flows:
  settlement:
    description: PSP settlements are booked in the ERP.
    object: payment
    source_of_truth: shop
    targets: [erp]
    pattern: file
    latency_class: finance-close
    owner: shop-team
    signals:
"""

SIGNAL = """      {name}:
        kind: {kind}
        description: Reconciliation.
        probe:
          kind: reconcile
          measure: {measure}
          key: payment_ref
          evidence_limit: {limit}
          source: {{kind: sql, connection: psp, query: "SELECT payment_ref, currency, amount FROM psp_settlements WHERE settled_at < :now"}}
          target: {{kind: sql, connection: psp, query: "SELECT payment_ref, currency, amount FROM erp_ledger"}}
"""


@pytest.fixture
def finance_db(postgres_url: str, clock: FakeClock) -> Iterator[str]:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        for statement in SETTLEMENTS.split(";"):
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if body:
                conn.execute(text(body), {"t": clock.now().timestamp() - 7200})
    engine.dispose()
    yield postgres_url


def run(tmp_path: Path, url: str, clock: FakeClock, limit: int = 100) -> tuple[ProbeRunner, object]:
    signals = "".join(
        SIGNAL.format(name=name, kind=kind, measure=measure, limit=limit)
        for name, kind, measure in (
            ("mismatched", "mismatches", "mismatches"),
            ("amount", "mismatch_amount", "mismatch_amount"),
            ("records", "records", "records"),
        )
    )
    model = write_model(tmp_path / "m", FLOWS + signals)
    state = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(state)
    ctx = ProbeContext(ConnectionPools(model.connections, {"PSP_URL": url}))
    return ProbeRunner(model, state, clock, Metrics(CollectorRegistry()), ctx), state


def by_labels(readings: list, *names: str) -> dict[tuple[str, ...], float]:  # type: ignore[type-arg]
    return {tuple(r.labels[n] for n in names): r.value for r in readings if r.value}


def test_settlements_against_the_ledger(finance_db: str, tmp_path: Path, clock: FakeClock) -> None:
    runner, state = run(tmp_path, finance_db, clock)
    mismatched = runner.run("settlement", "mismatched")
    amount = runner.run("settlement", "amount")
    records = runner.run("settlement", "records")
    runner.close()
    assert mismatched.outcome is Outcome.SUCCESS, mismatched.error
    assert by_labels(mismatched.readings, "mismatch", "currency") == {
        ("amount_mismatch", "CHF"): 1,  # PAY-3 booked twice
        ("missing_in_target", "EUR"): 2,  # PAY-5 (EUR side) and PAY-6 (late)
        ("missing_in_source", "USD"): 1,  # PAY-5 (USD side)
    }
    assert by_labels(amount.readings, "currency") == {("CHF",): 25.0, ("EUR",): 310.0, ("USD",): 10.0}
    assert {r.labels["side"]: r.value for r in records.readings} == {"source": 8, "target": 6}
    with Session(state) as session:  # type: ignore[arg-type]
        evidence = latest_evidence(session, "settlement", "mismatched")
    assert [(e.record_key, e.kind, e.currency) for e in evidence] == [
        ("PAY-6", "missing_in_target", "EUR"),
        ("PAY-3", "amount_mismatch", "CHF"),
        ("PAY-5", "missing_in_target", "EUR"),
        ("PAY-5", "missing_in_source", "USD"),
    ]
    assert (evidence[1].source_amount, evidence[1].target_amount) == (25.0, 50.0)


def test_a_late_booking_clears_its_mismatch(finance_db: str, tmp_path: Path, clock: FakeClock) -> None:
    runner, state = run(tmp_path, finance_db, clock)
    assert (
        by_labels(runner.run("settlement", "mismatched").readings, "mismatch", "currency")[("missing_in_target", "EUR")]
        == 2
    )
    engine = create_engine(finance_db)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO erp_ledger VALUES ('PAY-6', 'EUR', 300.00, 0)"))
    engine.dispose()
    later = runner.run("settlement", "mismatched")
    runner.close()
    assert by_labels(later.readings, "mismatch", "currency")[("missing_in_target", "EUR")] == 1
    with Session(state) as session:  # type: ignore[arg-type]
        assert "PAY-6" not in {e.record_key for e in latest_evidence(session, "settlement", "mismatched")}


def test_evidence_is_capped_and_never_a_metric_label(finance_db: str, tmp_path: Path, clock: FakeClock) -> None:
    runner, state = run(tmp_path, finance_db, clock, limit=2)
    result = runner.run("settlement", "mismatched")
    runner.close()
    assert all(set(r.labels) == {"mismatch", "currency"} for r in result.readings)
    with Session(state) as session:  # type: ignore[arg-type]
        assert len(latest_evidence(session, "settlement", "mismatched")) == 2


@pytest.mark.parametrize(
    ("source", "target", "absolute", "relative", "mismatches"),
    [
        ("100.00", "100.40", "0.50", "0", 0),
        ("100.00", "100.60", "0.50", "0", 1),
        ("10000.00", "10004.00", "0.01", "0.0005", 0),  # 4 of 10,000 is within 0.05 %
        ("10000.00", "10006.00", "0.01", "0.0005", 1),
    ],
)
def test_absolute_and_relative_tolerance(
    source: str, target: str, absolute: str, relative: str, mismatches: int
) -> None:
    diff = compare(
        [("PAY-1", "EUR", Decimal(source))], [("PAY-1", "EUR", Decimal(target))], Decimal(absolute), Decimal(relative)
    )
    assert diff.counts[("amount_mismatch", "EUR")] == mismatches
