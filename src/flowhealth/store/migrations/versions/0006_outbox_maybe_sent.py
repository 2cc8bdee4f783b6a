"""Outbox messages remember whether an earlier attempt may have reached the receiver.

Only then does the next attempt look for the message before sending (Slack's history). A row
that was already tried under older code may have been sent, so it starts as "maybe sent".

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("maybe_sent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE outbox_message SET maybe_sent = attempts > 0 WHERE delivered_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("maybe_sent")
