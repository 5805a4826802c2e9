"""reports: work_orders table, calls.category, indexes for the period aggregates of `hotline report`

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the UTC timestamp type of storage/tables.py at this revision.
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Work orders, a category per contact, and the report's indexes."""
    op.create_table(
        "work_orders",
        sa.Column("work_order_id", sa.String(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("pbx", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("due_at", _TIME, nullable=True),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("work_order_id"),
    )
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])
    op.create_index("ix_work_orders_call_id", "work_orders", ["call_id"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("category", sa.String(), nullable=True))
    # The report reads citizen and survey calls of a period: (kind, started_at) turns the year's
    # aggregates into two range scans instead of a scan of every PBX's every year.
    op.create_index("ix_calls_kind_started_at", "calls", ["kind", "started_at"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_calls_kind_started_at", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("category")
    op.drop_index("ix_work_orders_call_id", table_name="work_orders")
    op.drop_index("ix_work_orders_created_at", table_name="work_orders")
    op.drop_table("work_orders")
