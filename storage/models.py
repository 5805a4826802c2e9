"""Every table of hotline registered in one metadata.

Tables live beside the storage functions of their aggregate (calls in ``tables``, work orders,
announcements, surveys, live snapshots); ``storage/__init__`` loads them lazily, so code that needs
the whole schema — Alembic's autogenerate, the test that the models match the migrations — imports
:data:`METADATA` from here instead of relying on what happens to be imported already.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from storage import announcements, live_snapshots, surveys, tables, workorders

METADATA = SQLModel.metadata
TABLE_MODULES = (tables, workorders, announcements, surveys, live_snapshots)
