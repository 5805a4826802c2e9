"""calls.transferred: whether an agent transferred the call (the export contract's `transferred`)

`hold_s` and `transfers` exist since 0001; `transferred` (= transfers > 0) is its own column so
that reports can count transferred contacts in SQL. Rows written before it are backfilled.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add calls.transferred (false by default) and fill it from calls.transfers."""
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("transferred", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(sa.text("UPDATE calls SET transferred = (transfers > 0)"))


def downgrade() -> None:
    """Drop calls.transferred (transfers still holds the count)."""
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("transferred")
