"""surveys: index on survey.contact_ended_at (the survey lists filter and sort on it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A year of surveys is ~100 k rows: without it the first page sorts the whole table."""
    op.create_index("ix_survey_contact_ended", "survey", ["contact_ended_at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_survey_contact_ended", table_name="survey")
