"""`alert_state.reason` defaults to 'threshold' in every database, as the declared table now says.

Revision 0002 added the column with this server default, so databases Alembic built have it. A
database made before Alembic by `create_all` of a version that already had the column (and is
recognised at a later revision, then stamped) was made without it, and a new database is now
built from the declared tables: the declaration gained the default, and this revision gives it to
the rest. On a database that has it already, it sets what is there.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:  # SQLite alters a default by copying the table
        batch.alter_column(
            "reason", existing_type=sa.String(length=16), existing_nullable=False, server_default="threshold"
        )


def downgrade() -> None:
    pass  # 0014 had the default too wherever Alembic built the database; taking it away would lose nothing but help no one
