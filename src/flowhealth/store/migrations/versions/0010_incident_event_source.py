"""Incident events say where a person acted: Slack, PagerDuty, the API or the CLI.

The weekly review shows where incidents were acknowledged. Events written before this revision
are filled in where the actor shows it: Slack actors are mentions (``<@U…>``), PagerDuty's carry
`` (PagerDuty)``; the API and the CLI wrote plain names, so theirs stay unknown.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_event") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
    op.execute("UPDATE incident_event SET source = 'slack' WHERE actor LIKE '<@%'")
    op.execute("UPDATE incident_event SET source = 'pagerduty' WHERE actor LIKE '% (PagerDuty)'")


def downgrade() -> None:
    with op.batch_alter_table("incident_event") as batch:
        batch.drop_column("source")
