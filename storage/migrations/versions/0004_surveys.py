"""surveys: the callback-survey queue (survey), its call attempts, the do-not-call list

Revision ID: 0004
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of storage/tables.py's UTC timestamp type at this revision.
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create survey, survey_attempt and survey_dnc."""
    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("pbx", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("contact_ended_at", _TIME, nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("due_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("heartbeat_at", _TIME, nullable=True),
        sa.Column("channel_id", sa.String(), nullable=True),
        sa.Column("last_result", sa.String(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.String(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_state_due", "survey", ["state", "due_at"])
    op.create_index("ix_survey_number_created", "survey", ["number", "created_at"])
    op.create_index("ix_survey_call_id", "survey", ["call_id"], unique=True)
    op.create_table(
        "survey_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("action_id", sa.String(), nullable=True),
        sa.Column("answered_at", _TIME, nullable=True),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("result", sa.String(), nullable=True),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_attempt_survey", "survey_attempt", ["survey_id"])
    op.create_index("ix_survey_attempt_channel", "survey_attempt", ["channel_id"], unique=True)
    op.create_table(
        "survey_dnc",
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("added_at", _TIME, nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    """Drop the survey tables."""
    op.drop_table("survey_dnc")
    op.drop_index("ix_survey_attempt_channel", table_name="survey_attempt")
    op.drop_index("ix_survey_attempt_survey", table_name="survey_attempt")
    op.drop_table("survey_attempt")
    op.drop_index("ix_survey_call_id", table_name="survey")
    op.drop_index("ix_survey_number_created", table_name="survey")
    op.drop_index("ix_survey_state_due", table_name="survey")
    op.drop_table("survey")
