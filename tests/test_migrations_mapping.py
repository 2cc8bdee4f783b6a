"""Revision 0008 adds the mapping-change tables; a database at 0007 upgrades with its state kept."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flowhealth.hypercare.mapping_changes import record_mapping_changes
from flowhealth.model import Model
from flowhealth.store.db import init_schema
from flowhealth.store.mapping_tables import MappingState
from flowhealth.store.migrate import head_revision, schema_version
from flowhealth.store.tables import Incident
from tests.support.schema import upgrade_to


def test_a_database_at_0007_upgrades_and_keeps_its_incidents(empty_engine: Engine, reference_model: Model) -> None:
    upgrade_to(empty_engine, "0007")
    with empty_engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO incident (group_key, team, status, severity, opened_at, escalations, view_hash,"
                " message_seq, updated_at) VALUES ('erp-integration|flow=order-export', 'erp-integration', 'open',"
                " 'critical', :t, 0, '', 1, :t)"
            ),
            {"t": "2026-11-20 10:00:00"},
        )
    assert "mapping_change" not in inspect(empty_engine).get_table_names()

    init_schema(empty_engine)

    assert schema_version(empty_engine).current == head_revision()
    assert {"mapping_state", "mapping_change"} <= set(inspect(empty_engine).get_table_names())
    with Session(empty_engine) as session:
        assert session.exec(select(Incident)).one().group_key == "erp-integration|flow=order-export"
    now = datetime(2026, 11, 21, tzinfo=UTC)
    assert record_mapping_changes(empty_engine, reference_model, now, actor="ana") == []
    with Session(empty_engine) as session:
        kept = session.exec(select(MappingState).where(MappingState.flow == "order-export")).all()
    assert {(s.aspect, s.subject) for s in kept} >= {("contract", "erp-sales-order"), ("query", "export_delay")}
