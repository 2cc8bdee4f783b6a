"""Revision 0010 records where a person acted on an incident; older acknowledgements are filled in where the actor shows it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flowhealth.store.db import init_schema
from flowhealth.store.migrate import head_revision, schema_version
from flowhealth.store.tables import IncidentEvent
from tests.support.schema import upgrade_to


def test_a_database_at_0009_upgrades_and_its_acknowledgements_say_where(empty_engine: Engine) -> None:
    upgrade_to(empty_engine, "0009")
    with empty_engine.begin() as c:
        for actor in ("<@U024BE7LH>", "Jane Doe (PagerDuty)", "alice", None):
            c.execute(
                text("INSERT INTO incident_event (incident_id, event, at, actor) VALUES (1, 'acked', :t, :actor)"),
                {"t": "2026-11-20 10:00:00", "actor": actor},
            )

    init_schema(empty_engine)

    assert schema_version(empty_engine).current == head_revision()
    with Session(empty_engine) as session:
        events = session.exec(select(IncidentEvent).order_by(col(IncidentEvent.id))).all()
    # The API and the CLI wrote plain names: where they acted is not known, and not guessed.
    assert [(e.actor, e.source) for e in events] == [
        ("<@U024BE7LH>", "slack"),
        ("Jane Doe (PagerDuty)", "pagerduty"),
        ("alice", None),
        (None, None),
    ]
