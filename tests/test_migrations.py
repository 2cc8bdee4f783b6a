"""Schema migrations: the revisions build exactly the declared tables, and old state survives an upgrade."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import String, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from flowhealth.errors import SchemaError
from flowhealth.store.db import init_schema, make_engine
from flowhealth.store.migrate import (
    SchemaState,
    alembic_config,
    head_revision,
    require_current,
    revisions,
    schema_version,
)
from flowhealth.store.tables import AlertState, Incident, NotificationThread, OutboxMessage, Silence

T0 = "2026-11-20 10:00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty state database on each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    else:
        engine = make_engine(request.getfixturevalue("postgres_url"))
    try:
        yield engine
    finally:
        engine.dispose()


def _at(engine: Engine, revision: str, *, versioned: bool) -> None:
    """A database as flowhealth at `revision` left it; before Alembic, create_all recorded no version."""
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        if not versioned:
            connection.execute(text("DROP TABLE alembic_version"))
        connection.commit()


def _first_schema_state(engine: Engine) -> None:
    """A firing alert with its Slack thread and a queued notification, as the first version wrote them."""
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO alert_state (rule, labels, state, firing_since, last_true_at, last_value, incident,"
                " owner, updated_at) VALUES ('orders_stuck', '{}', 'firing', :t, :t, 42.0, 3, 'team-orders', :t)"
            ),
            {"t": T0},
        )
        c.execute(
            text(
                "INSERT INTO outbox_message (dedup_key, thread_key, kind, team, channel, payload, created_at,"
                " next_attempt_at, attempts) VALUES ('orders_stuck/3/firing', 'orders_stuck/3', 'firing',"
                " 'team-orders', '#orders', '{\"text\": \"stuck\"}', :t, :t, 2)"
            ),
            {"t": T0},
        )
        c.execute(
            text(
                "INSERT INTO notification_thread (thread_key, channel_id, message_ts, created_at)"
                " VALUES ('orders_stuck/3', 'C1', '1700000000.000100', :t)"
            ),
            {"t": T0},
        )


def _incidents_and_silences(engine: Engine) -> None:
    """An open incident and an active silence, which exist from revision 0002 on."""
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO incident (group_key, team, status, severity, opened_at, escalations, view_hash,"
                " message_seq, updated_at) VALUES ('flow=orders', 'team-orders', 'open', 'critical', :t, 1, 'abc',"
                " 2, :t)"
            ),
            {"t": T0},
        )
        c.execute(
            text(
                "INSERT INTO silence (matchers, starts_at, ends_at, author, reason, created_at, announced_start,"
                " announced_end) VALUES ('{\"flow\": \"orders\"}', :t, '2026-12-31 00:00:00', 'ana', 'migration',"
                " :t, :yes, :no)"
            ),
            {"t": T0, "yes": True, "no": False},
        )


def test_upgrading_an_empty_database_yields_exactly_the_declared_tables(empty_engine: Engine) -> None:
    init_schema(empty_engine)
    with empty_engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
    assert diffs == []
    assert schema_version(empty_engine).state is SchemaState.CURRENT


def _schema(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    inspector = inspect(engine)
    by_name = itemgetter("name")
    return {
        table: {
            # Columns compared by name: a column a revision added comes last in its table, and no
            # statement of flowhealth's depends on column order.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in inspector.get_columns(table)
            ),
            "primary key": inspector.get_pk_constraint(table),
            "foreign keys": sorted(inspector.get_foreign_keys(table), key=by_name),
            "indexes": sorted(inspector.get_indexes(table), key=by_name),
            "unique": sorted(inspector.get_unique_constraints(table), key=by_name),
            "checks": sorted(inspector.get_check_constraints(table), key=by_name),
        }
        for table in sorted(inspector.get_table_names())
    }


def test_a_new_database_gets_the_schema_every_revision_in_turn_builds(empty_engine: Engine) -> None:
    with empty_engine.connect() as connection:  # the long way: Alembic runs every revision
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    migrated = _schema(empty_engine)
    with empty_engine.begin() as connection:
        SQLModel.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE alembic_version"))
    assert _schema(empty_engine) == {}

    init_schema(empty_engine)  # a new database: the declared tables at once, stamped at head

    assert _schema(empty_engine) == migrated
    assert schema_version(empty_engine).state is SchemaState.CURRENT
    with empty_engine.connect() as connection:  # Alembic reads the stamp and can step back from it
        assert MigrationContext.configure(connection).get_current_revision() == head_revision()
        command.downgrade(alembic_config(connection), revisions()[-2])
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    assert _schema(empty_engine) == migrated


def test_upgrade_gives_alert_reason_its_default_where_a_database_lacks_it(empty_engine: Engine) -> None:
    """A database stamped at 0014 whose `alert_state.reason` has no default, as `create_all` made it before Alembic."""
    _at(empty_engine, "0014", versioned=True)
    with empty_engine.connect() as connection:
        with Operations(MigrationContext.configure(connection)).batch_alter_table("alert_state") as batch:
            batch.alter_column("reason", existing_type=String(16), existing_nullable=False, server_default=None)
        connection.commit()
    insert = (
        "INSERT INTO alert_state (rule, labels, state, incident, owner, updated_at{reason})"
        " VALUES (:rule, '{{}}', 'firing', 1, 'team-orders', :t{value})"
    )
    with empty_engine.begin() as connection:
        connection.execute(
            text(insert.format(reason=", reason", value=", 'no_data'")), {"rule": "orders_stuck", "t": T0}
        )
    assert _reason_default(empty_engine) is None

    init_schema(empty_engine)

    default = _reason_default(empty_engine)
    assert default is not None and "threshold" in default
    with empty_engine.begin() as connection:  # a row written without a reason is a threshold alert
        connection.execute(text(insert.format(reason="", value="")), {"rule": "other", "t": T0})
    with Session(empty_engine) as session:
        reasons = {row.rule: row.reason for row in session.exec(select(AlertState))}
    assert reasons == {"orders_stuck": "no_data", "other": "threshold"}


def _reason_default(engine: Engine) -> str | None:
    default: str | None = next(c for c in inspect(engine).get_columns("alert_state") if c["name"] == "reason")[
        "default"
    ]
    return default


def test_revisions_form_one_line_from_the_first_schema() -> None:
    assert revisions()[0] == "0001"
    assert revisions()[-1] == head_revision()


@pytest.mark.parametrize("versioned", [False, True], ids=["before-alembic", "versioned"])
def test_upgrade_from_the_first_schema_keeps_alerts_outbox_and_threads(empty_engine: Engine, versioned: bool) -> None:
    _at(empty_engine, "0001", versioned=versioned)
    _first_schema_state(empty_engine)
    assert schema_version(empty_engine).state is (SchemaState.BEHIND if versioned else SchemaState.UNVERSIONED)

    init_schema(empty_engine)

    assert schema_version(empty_engine).current == head_revision()
    with Session(empty_engine) as session:
        alert = session.exec(select(AlertState)).one()
        message = session.exec(select(OutboxMessage)).one()
        thread = session.exec(select(NotificationThread)).one()
    assert (alert.rule, alert.state, alert.incident, alert.last_value) == ("orders_stuck", "firing", 3, 42.0)
    assert alert.reason == "threshold"
    assert alert.firing_since == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert (message.dedup_key, message.attempts, message.delivered_at) == ("orders_stuck/3/firing", 2, None)
    assert thread.message_ts == "1700000000.000100"


def test_upgrade_from_before_alembic_keeps_open_incidents_and_silences(empty_engine: Engine) -> None:
    _at(empty_engine, "0002", versioned=False)
    _first_schema_state(empty_engine)
    _incidents_and_silences(empty_engine)

    init_schema(empty_engine)

    with Session(empty_engine) as session:
        incident = session.exec(select(Incident)).one()
        silence = session.exec(select(Silence)).one()
        assert session.exec(select(OutboxMessage)).one().delivered_at is None
    assert (incident.status, incident.escalations, incident.message_seq) == ("open", 1, 2)
    assert (silence.matchers, silence.author, silence.announced_start) == ('{"flow": "orders"}', "ana", True)


def test_a_database_newer_than_the_code_is_refused_untouched(empty_engine: Engine) -> None:
    init_schema(empty_engine)
    with empty_engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match=r"revision 9999, written by a newer flowhealth"):
        init_schema(empty_engine)
    with pytest.raises(SchemaError, match="newer flowhealth"):
        require_current(empty_engine)
    assert schema_version(empty_engine).current == "9999"


def test_an_older_database_is_refused_by_commands_that_do_not_migrate(empty_engine: Engine) -> None:
    _at(empty_engine, "0001", versioned=True)
    with pytest.raises(SchemaError, match=r"older than this flowhealth \(revision 0001.*flowhealth db upgrade"):
        require_current(empty_engine)
    assert schema_version(empty_engine).current == "0001"


def test_a_database_of_someone_else_is_refused_and_left_alone(empty_engine: Engine) -> None:
    with empty_engine.begin() as c:
        c.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaError, match=r"tables flowhealth never made \(customers\)"):
        init_schema(empty_engine)
    assert inspect(empty_engine).get_table_names() == ["customers"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_replicas_migrating_at_once_all_start_on_one_schema(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engines = [make_engine(url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def migrate(engine: Engine) -> None:
        start.wait()
        try:
            init_schema(engine)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert schema_version(engines[0]).state is SchemaState.CURRENT
    for engine in engines:
        engine.dispose()
