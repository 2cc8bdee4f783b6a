"""Incidents, their events and silences; alert_state learns reason, no-data, incident and evidence.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Rows of alert_state written before this revision are threshold alerts: the server default fills
# `reason` for them (SQLite cannot add a NOT NULL column without one); the code always sets it.


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("acked_by", sa.String(length=128), nullable=True),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.Column("ack_expires_at", sa.DateTime(), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("view_hash", sa.String(length=64), nullable=False),
        sa.Column("message_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_incident_group_key"), "incident", ["group_key"], unique=False)
    op.create_index(op.f("ix_incident_status"), "incident", ["status"], unique=False)
    op.create_table(
        "incident_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_incident_event_incident_id"), "incident_event", ["incident_id"], unique=False)
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expired_at", sa.DateTime(), nullable=True),
        sa.Column("announced_start", sa.Boolean(), nullable=False),
        sa.Column("announced_end", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column("alert_state", sa.Column("reason", sa.String(length=16), nullable=False, server_default="threshold"))
    op.add_column("alert_state", sa.Column("unknown_since", sa.DateTime(), nullable=True))
    op.add_column("alert_state", sa.Column("incident_id", sa.Integer(), nullable=True))
    op.add_column("alert_state", sa.Column("resolved_at", sa.DateTime(), nullable=True))
    op.add_column("alert_state", sa.Column("resolved_value", sa.Float(), nullable=True))
    op.add_column("alert_state", sa.Column("evidence", sa.Text(), nullable=True))
    op.create_index(op.f("ix_alert_state_incident_id"), "alert_state", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.drop_index(batch.f("ix_alert_state_incident_id"))
        batch.drop_column("evidence")
        batch.drop_column("resolved_value")
        batch.drop_column("resolved_at")
        batch.drop_column("incident_id")
        batch.drop_column("unknown_since")
        batch.drop_column("reason")
    op.drop_table("silence")
    op.drop_index(op.f("ix_incident_event_incident_id"), table_name="incident_event")
    op.drop_table("incident_event")
    op.drop_index(op.f("ix_incident_status"), table_name="incident")
    op.drop_index(op.f("ix_incident_group_key"), table_name="incident")
    op.drop_table("incident")
