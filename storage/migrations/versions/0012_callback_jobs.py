"""callbacks: the survey queue also holds callback requests (survey.kind)

Revision ID: 0012
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add survey.kind ('survey' or 'callback'); one job per contact and kind."""
    with op.batch_alter_table("survey") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="survey"))
        batch.drop_index("ix_survey_call_id")
        batch.create_index("ix_survey_call_id_kind", ["call_id", "kind"], unique=True)


def downgrade() -> None:
    """Drop the callback jobs and survey.kind."""
    op.execute(
        "DELETE FROM survey_attempt WHERE survey_id IN (SELECT id FROM survey WHERE kind <> 'survey')"
    )
    op.execute("DELETE FROM survey WHERE kind <> 'survey'")
    with op.batch_alter_table("survey") as batch:
        batch.drop_index("ix_survey_call_id_kind")
        batch.create_index("ix_survey_call_id", ["call_id"], unique=True)
        batch.drop_column("kind")
