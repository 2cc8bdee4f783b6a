"""Outbox messages name their receiver: Slack, or a team's PagerDuty, Teams, webhook or email channel.

Rows written before receivers existed all went to Slack, so they take the server default.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("receiver", sa.String(length=64), nullable=False, server_default="slack"))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("receiver")
