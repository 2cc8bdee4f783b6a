"""State databases at an older schema revision, for upgrade and downgrade tests."""

from __future__ import annotations

from alembic import command
from sqlalchemy.engine import Engine

from flowhealth.store.migrate import alembic_config


def upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate the database up to `revision` (not further), as that version of flowhealth left it."""
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def downgrade_to(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision`, as an operator rolling back to that version would."""
    with engine.connect() as connection:
        command.downgrade(alembic_config(connection), revision)
        connection.commit()
