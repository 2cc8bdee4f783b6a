"""Business journeys from OTLP spans and their per-minute counts and latencies.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journey",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("last_stage", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("last_outcome", sa.String(length=16), nullable=False),
        sa.Column("last_reason", sa.String(length=128), nullable=True),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("stages", sa.Text(), nullable=False),
        sa.Column("spans", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "entity_id"),
    )
    op.create_index("ix_journey_open", "journey", ["flow", "completed_at", "started_at"], unique=False)
    op.create_index("ix_journey_updated", "journey", ["flow", "updated_at"], unique=False)
    op.create_table(
        "journey_count",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "measure", "stage", "reason", "minute"),
    )
    op.create_table(
        "journey_latency",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("from_stage", sa.String(length=64), nullable=False),
        sa.Column("to_stage", sa.String(length=64), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("buckets", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "from_stage", "to_stage", "minute"),
    )


def downgrade() -> None:
    op.drop_table("journey_latency")
    op.drop_table("journey_count")
    op.drop_index("ix_journey_updated", table_name="journey")
    op.drop_index("ix_journey_open", table_name="journey")
    op.drop_table("journey")
