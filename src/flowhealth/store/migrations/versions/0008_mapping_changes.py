"""Mapping changes: the mappings last loaded and every change with who and when (issue 22).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapping_state",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("aspect", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "aspect", "subject"),
    )
    op.create_table(
        "mapping_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("aspect", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mapping_change_time", "mapping_change", ["changed_at"], unique=False)
    op.create_index("ix_mapping_change_flow", "mapping_change", ["flow"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mapping_change_flow", table_name="mapping_change")
    op.drop_index("ix_mapping_change_time", table_name="mapping_change")
    op.drop_table("mapping_change")
    op.drop_table("mapping_state")
