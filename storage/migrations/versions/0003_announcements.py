"""announcements: temporary notices played before the IVR menu

Revision ID: 0003
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the announcements table."""
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("text_zh", sa.String(), nullable=False),
        sa.Column("text_en", sa.String(), nullable=True),
        sa.Column("valid_from", _TIME, nullable=False),
        sa.Column("valid_to", _TIME, nullable=False),
        sa.Column("audio", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_announcements_valid_to", "announcements", ["valid_to"])


def downgrade() -> None:
    """Drop the announcements table."""
    op.drop_index("ix_announcements_valid_to", table_name="announcements")
    op.drop_table("announcements")
