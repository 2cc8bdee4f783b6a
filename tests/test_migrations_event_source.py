"""Revision 0010 records where a person acted on an incident; older acknowledgements are filled in where the actor shows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.migrate import alembic_config, head_revision, schema_version
from flowhealth.store.tables import IncidentEvent


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


def test_a_database_at_0009_upgrades_and_its_acknowledgements_say_where(engine: Engine) -> None:
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0009")
        connection.commit()
    with engine.begin() as c:
        for actor in ("<@U024BE7LH>", "Jane Doe (PagerDuty)", "alice", None):
            c.execute(
                text("INSERT INTO incident_event (incident_id, event, at, actor) VALUES (1, 'acked', :t, :actor)"),
                {"t": "2026-11-20 10:00:00", "actor": actor},
            )

    init_schema(engine)

    assert schema_version(engine).current == head_revision()
    with Session(engine) as session:
        events = session.exec(select(IncidentEvent).order_by(col(IncidentEvent.id))).all()
    # The API and the CLI wrote plain names: where they acted is not known, and not guessed.
    assert [(e.actor, e.source) for e in events] == [
        ("<@U024BE7LH>", "slack"),
        ("Jane Doe (PagerDuty)", "pagerduty"),
        ("alice", None),
        (None, None),
    ]
