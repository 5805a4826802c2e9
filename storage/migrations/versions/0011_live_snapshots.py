"""live_snapshots: the latest live status of every PBX (multi-daemon view)

Revision ID: 0011
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create live_snapshots."""
    op.create_table(
        "live_snapshots",
        sa.Column("pbx", sa.String(), nullable=False),
        sa.Column("published_at", _TIME, nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("pbx"),
    )


def downgrade() -> None:
    """Drop live_snapshots."""
    op.drop_table("live_snapshots")
