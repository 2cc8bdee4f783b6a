"""Alembic environment: always run by flowhealth.store.migrate on a connection it opened and locked."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from flowhealth.store import db as _db  # noqa: F401  - registers every table with SQLModel.metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("flowhealth migrations run through `flowhealth db upgrade`, not the alembic command")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite alters a table by copying it; batch mode does that for later revisions that need it.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
