"""Journeys keep one secondary index: `ix_journey_open` gains `updated_at`, `ix_journey_updated` goes.

Every journey row written by the span folder went into four B-trees: the table, its primary key
and two secondary indexes. `ix_journey_updated` (flow, updated_at) served one query only, the
expiry of abandoned journeys (open, not updated since the horizon), which the open index can
answer as well once it carries `updated_at`: the open journeys of a flow are one range of it, and
their `updated_at` is read from the index itself. A journey written now costs one index entry
fewer, and one that completes moves one entry instead of two.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_journey_updated", table_name="journey")
    op.drop_index("ix_journey_open", table_name="journey")
    op.create_index("ix_journey_open", "journey", ["flow", "completed_at", "started_at", "updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_journey_open", table_name="journey")
    op.create_index("ix_journey_open", "journey", ["flow", "completed_at", "started_at"], unique=False)
    op.create_index("ix_journey_updated", "journey", ["flow", "updated_at"], unique=False)
