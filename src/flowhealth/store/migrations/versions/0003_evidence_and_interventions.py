"""Reconciliation evidence and manual interventions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intervention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("record", sa.String(length=256), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("performed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_intervention_flow_time", "intervention", ["flow", "performed_at"], unique=False)
    op.create_table(
        "mismatch_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("record_key", sa.String(length=256), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("source_amount", sa.Float(), nullable=True),
        sa.Column("target_amount", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mismatch_evidence_signal", "mismatch_evidence", ["flow", "signal"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mismatch_evidence_signal", table_name="mismatch_evidence")
    op.drop_table("mismatch_evidence")
    op.drop_index("ix_intervention_flow_time", table_name="intervention")
    op.drop_table("intervention")
