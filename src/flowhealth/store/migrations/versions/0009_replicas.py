"""Replica heartbeats: who runs, in which role, with which model (replicas on PostgreSQL).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("model_digest", sa.String(length=64), nullable=False),
        sa.Column("model_loaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_replica_heartbeat_at"), "replica", ["heartbeat_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_replica_heartbeat_at"), table_name="replica")
    op.drop_table("replica")
