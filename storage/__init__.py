"""Storage of call records: SQLModel tables, engine setup, migrations, the batched writer, queries.

The domain (`telephony/`) talks to the database only through the functions exported here. They
are imported on first use (PEP 562), so `import storage.errors` does not load SQLAlchemy, SQLModel
and Alembic: commands that never touch a database start faster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.engine import make_engine, mask_url
    from storage.errors import StorageError
    from storage.live_snapshots import publish_and_read
    from storage.queries import count_by_outcome, get_call, iter_calls
    from storage.schema import migrate
    from storage.workorders import WorkOrder, WorkOrderState
    from storage.writer import AsyncCallWriter, CallWriter

_HOME = {
    "AsyncCallWriter": "storage.writer",
    "CallWriter": "storage.writer",
    "StorageError": "storage.errors",
    "count_by_outcome": "storage.queries",
    "get_call": "storage.queries",
    "iter_calls": "storage.queries",
    "make_engine": "storage.engine",
    "mask_url": "storage.engine",
    "migrate": "storage.schema",
    "publish_and_read": "storage.live_snapshots",
    "WorkOrder": "storage.workorders",
    "WorkOrderState": "storage.workorders",
}

__all__ = [
    "AsyncCallWriter",
    "CallWriter",
    "StorageError",
    "WorkOrder",
    "WorkOrderState",
    "count_by_outcome",
    "get_call",
    "iter_calls",
    "make_engine",
    "mask_url",
    "migrate",
    "publish_and_read",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
