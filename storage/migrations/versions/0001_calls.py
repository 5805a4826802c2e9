"""calls: one row per contact (every CallRecord field, close bookkeeping, updated_at)

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types of storage/tables.py at this revision (a migration must not
# import the live model): UTC timestamps, JSON text on SQLite / JSONB on PostgreSQL.
_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the calls table and its indexes."""
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("pbx", sa.String(), nullable=False),
        sa.Column("linkedid", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("caller", sa.String(), nullable=True),
        sa.Column("dialed", sa.String(), nullable=True),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("ivr_path", _JSON, nullable=False),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("queued_at", _TIME, nullable=True),
        sa.Column("answered_at", _TIME, nullable=True),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("hangup_by", sa.String(), nullable=True),
        sa.Column("recording", sa.String(), nullable=True),
        sa.Column("disposition", sa.String(), nullable=True),
        sa.Column("work_order_id", sa.String(), nullable=True),
        sa.Column("survey_rating", sa.Integer(), nullable=True),
        sa.Column("close_reason", sa.String(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("notes", _JSON, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_pbx_linkedid", "calls", ["pbx", "linkedid"])


def downgrade() -> None:
    """Drop the calls table."""
    op.drop_index("ix_calls_pbx_linkedid", table_name="calls")
    op.drop_index("ix_calls_started_at", table_name="calls")
    op.drop_table("calls")
