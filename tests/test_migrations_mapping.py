"""Revision 0008 adds the mapping-change tables; a database at 0007 upgrades with its state kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.hypercare.mapping_changes import record_mapping_changes
from flowhealth.model import Model
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.mapping_tables import MappingState
from flowhealth.store.migrate import alembic_config, head_revision, schema_version
from flowhealth.store.tables import Incident


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
    try:
        yield eng
    finally:
        eng.dispose()


def test_a_database_at_0007_upgrades_and_keeps_its_incidents(engine: Engine, reference_model: Model) -> None:
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0007")
        connection.commit()
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO incident (group_key, team, status, severity, opened_at, escalations, view_hash,"
                " message_seq, updated_at) VALUES ('erp-integration|flow=order-export', 'erp-integration', 'open',"
                " 'critical', :t, 0, '', 1, :t)"
            ),
            {"t": "2026-11-20 10:00:00"},
        )
    assert "mapping_change" not in inspect(engine).get_table_names()

    init_schema(engine)

    assert schema_version(engine).current == head_revision()
    assert {"mapping_state", "mapping_change"} <= set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.exec(select(Incident)).one().group_key == "erp-integration|flow=order-export"
    now = datetime(2026, 11, 21, tzinfo=UTC)
    assert record_mapping_changes(engine, reference_model, now, actor="ana") == []
    with Session(engine) as session:
        kept = session.exec(select(MappingState).where(MappingState.flow == "order-export")).all()
    assert {(s.aspect, s.subject) for s in kept} >= {("contract", "erp-sales-order"), ("query", "export_delay")}
