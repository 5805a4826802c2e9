"""Storage of call records: SQLModel tables, engine setup, migrations, the batched writer, queries.

The domain (`telephony/`) talks to the database only through the functions exported here.
"""

from storage import announcements as announcements  # registers its table with the metadata
from storage.engine import make_engine, mask_url
from storage.errors import StorageError
from storage.live_snapshots import publish_and_read
from storage.queries import count_by_outcome, get_call, iter_calls
from storage.schema import migrate
from storage.workorders import WorkOrder, WorkOrderState
from storage.writer import AsyncCallWriter, CallWriter

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
