"""Storage of call records: SQLModel tables, engine setup, migrations, the batched writer, queries.

The domain (`telephony/`) talks to the database only through the functions exported here.
"""

from storage.engine import make_engine, mask_url
from storage.errors import StorageError
from storage.queries import count_by_outcome, get_call, iter_calls
from storage.schema import migrate
from storage.surveys import SURVEY  # noqa: F401 (registers the survey tables in the metadata)
from storage.writer import AsyncCallWriter, CallWriter

__all__ = [
    "AsyncCallWriter",
    "CallWriter",
    "StorageError",
    "count_by_outcome",
    "get_call",
    "iter_calls",
    "make_engine",
    "mask_url",
    "migrate",
]
