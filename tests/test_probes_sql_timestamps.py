"""`:now_ts`: SQL probes over timestamp columns on SQLite, PostgreSQL and MariaDB, driven by the probe clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, Table, create_engine
from sqlalchemy.engine import make_url

from flowhealth.clock import FakeClock
from flowhealth.metrics import Metrics
from flowhealth.probes.connections import ConnectionPools
from flowhealth.probes.registry import ProbeContext
from flowhealth.probes.runner import ProbeRunner
from flowhealth.store.db import init_schema, make_engine
from tests.support.models import orders_flow, write_model
from tests.support.services import MARIADB_URL, need, port_open

# The delay of the oldest unexported order in seconds, as docs/sql-time.md spells it per database.
DELAY_QUERY = {
    "sqlite": "SELECT COALESCE((julianday(:now_ts) - julianday(MIN(placed_at))) * 86400, 0) FROM {t} WHERE NOT exported",
    "postgresql": "SELECT COALESCE(EXTRACT(EPOCH FROM :now_ts - MIN(placed_at)), 0) FROM {t} WHERE NOT exported",
    "mariadb": "SELECT COALESCE(TIMESTAMPDIFF(SECOND, MIN(placed_at), :now_ts), 0) FROM {t} WHERE NOT exported",
}
# Rows older than 5 minutes, compared in SQL (an index on placed_at can serve it).
COUNT_QUERY = {
    "sqlite": "SELECT COUNT(*) FROM {t} WHERE NOT exported AND placed_at < datetime(:now_ts, '-5 minutes')",
    "postgresql": "SELECT COUNT(*) FROM {t} WHERE NOT exported AND placed_at < :now_ts - INTERVAL '5 minutes'",
    "mariadb": "SELECT COUNT(*) FROM {t} WHERE NOT exported AND placed_at < :now_ts - INTERVAL 5 MINUTE",
}


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-tz", "mariadb"])
def orders_table(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[str, str, str]]:
    """(database url, dialect, table) with orders placed 10 min, 3 min and (exported) 2 h before the clock."""
    kind: str = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    elif kind.startswith("postgresql"):
        url = request.getfixturevalue("postgres_url")
    else:
        parsed = make_url(MARIADB_URL)
        need(port_open(parsed.host or "127.0.0.1", parsed.port or 3306), "MariaDB")
        url = MARIADB_URL
    table_name = f"orders_{uuid.uuid4().hex[:10]}"
    with_tz = kind == "postgresql-tz"
    table = Table(
        table_name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("placed_at", DateTime(timezone=with_tz), nullable=False),
        Column("exported", Boolean, nullable=False),
    )
    now = clock.now().astimezone(UTC)
    stamp = (lambda d: d) if with_tz else (lambda d: d.replace(tzinfo=None))  # naive columns hold UTC
    engine = create_engine(url)
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": 1, "placed_at": stamp(now - timedelta(minutes=10)), "exported": False},
                {"id": 2, "placed_at": stamp(now - timedelta(minutes=3)), "exported": False},
                {"id": 3, "placed_at": stamp(now - timedelta(hours=2)), "exported": True},
            ],
        )
    yield url, kind.removesuffix("-tz"), table_name
    table.drop(engine)
    engine.dispose()


def _run(tmp_path: Path, url: str, query: str, clock: FakeClock) -> float:
    model = write_model(tmp_path / "m", orders_flow(url, query))
    state = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(state)
    runner = ProbeRunner(
        model, state, clock, Metrics(CollectorRegistry()), ProbeContext(ConnectionPools(model.connections, {}))
    )
    try:
        result = runner.run("orders", "delay", record=False)
    finally:
        runner.close()
    assert result.error is None, result.error
    (reading,) = result.readings
    return reading.value


def test_now_ts_measures_a_delay_on_timestamp_columns(
    orders_table: tuple[str, str, str], tmp_path: Path, clock: FakeClock
) -> None:
    url, dialect, table = orders_table
    assert _run(tmp_path, url, DELAY_QUERY[dialect].format(t=table), clock) == pytest.approx(600, abs=1)


def test_now_ts_compares_against_timestamp_columns(
    orders_table: tuple[str, str, str], tmp_path: Path, clock: FakeClock
) -> None:
    url, dialect, table = orders_table
    assert _run(tmp_path, url, COUNT_QUERY[dialect].format(t=table), clock) == 1


def test_now_ts_follows_the_probe_clock_like_now(
    orders_table: tuple[str, str, str], tmp_path: Path, clock: FakeClock
) -> None:
    """The demo runs an accelerated clock: `:now_ts` moves with it, not with the wall clock."""
    url, dialect, table = orders_table
    clock.advance(timedelta(hours=1))  # the fake clock is far from the wall clock, and moves by itself
    assert _run(tmp_path, url, DELAY_QUERY[dialect].format(t=table), clock) == pytest.approx(4200, abs=1)
