"""The span inbox keeps the export request's protobuf body instead of its events as JSON.

Encoding the stage events as JSON cost about a fifth of the receiver's request path; the body is
already bytes. The fold extracts the events again only for rows this process did not write (a
restart, another replica). Rows written before this revision keep their JSON events and are
still read.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("span_inbox") as batch:
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Rows with a body have no JSON events: fold the inbox before downgrading.
    op.execute("DELETE FROM span_inbox WHERE body IS NOT NULL")
    with op.batch_alter_table("span_inbox") as batch:
        batch.drop_column("body")
