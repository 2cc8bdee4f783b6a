"""The first schema flowhealth shipped: samples, probe and alert state, alert history, the outbox.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=512), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("incident", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_event_rule_time", "alert_event", ["rule", "at"], unique=False)
    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending_since", sa.DateTime(), nullable=True),
        sa.Column("firing_since", sa.DateTime(), nullable=True),
        sa.Column("last_true_at", sa.DateTime(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("incident", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "labels"),
    )
    op.create_index(op.f("ix_alert_state_state"), "alert_state", ["state"], unique=False)
    op.create_table(
        "notification_thread",
        sa.Column("thread_key", sa.String(length=700), nullable=False),
        sa.Column("channel_id", sa.String(length=96), nullable=False),
        sa.Column("message_ts", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("thread_key"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=700), nullable=False),
        sa.Column("thread_key", sa.String(length=700), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=96), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_started_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key", name="uq_outbox_dedup_key"),
    )
    op.create_index(op.f("ix_outbox_message_next_attempt_at"), "outbox_message", ["next_attempt_at"], unique=False)
    op.create_index(op.f("ix_outbox_message_thread_key"), "outbox_message", ["thread_key"], unique=False)
    op.create_table(
        "probe_state",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("last_outcome", sa.String(length=16), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_duration_seconds", sa.Float(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("flow", "signal"),
    )
    op.create_table(
        "sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sample_observed_at"), "sample", ["observed_at"], unique=False)
    op.create_index("ix_sample_series_time", "sample", ["flow", "signal", "observed_at"], unique=False)
    op.create_table(
        "signal_value",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("flow", "signal", "labels"),
    )


def downgrade() -> None:
    op.drop_table("signal_value")
    op.drop_index("ix_sample_series_time", table_name="sample")
    op.drop_index(op.f("ix_sample_observed_at"), table_name="sample")
    op.drop_table("sample")
    op.drop_table("probe_state")
    op.drop_index(op.f("ix_outbox_message_thread_key"), table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_next_attempt_at"), table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_table("notification_thread")
    op.drop_index(op.f("ix_alert_state_state"), table_name="alert_state")
    op.drop_table("alert_state")
    op.drop_index("ix_alert_event_rule_time", table_name="alert_event")
    op.drop_table("alert_event")
