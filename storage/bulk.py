"""Bulk loading of generated history (`hotline seed-year`): plain INSERTs in large batches.

Not the daemon's write path (that is `writer.CallWriter`, an idempotent upsert): loading refuses
rows that are already there, so it is only used on a period the database has no calls in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, insert
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import CALLS, record_to_row
from storage.workorders import WORK_ORDERS, WorkOrder, work_order_row
from telephony.calls.record import CallRecord

BATCH = 5000


def load_history(
    engine: Engine,
    calls: Iterable[tuple[CallRecord, str | None]],
    work_orders: Iterable[WorkOrder],
    updated_at: datetime,
) -> tuple[int, int]:
    """Insert (record, category) pairs and work orders in one transaction; the counts written."""
    n_calls = n_orders = 0
    try:
        with engine.begin() as connection:
            batch: list[dict[str, object]] = []
            for record, category in calls:
                row = record_to_row(record, updated_at)
                row["category"] = category
                batch.append(row)
                if len(batch) >= BATCH:
                    connection.execute(insert(CALLS), batch)
                    n_calls += len(batch)
                    batch = []
            if batch:
                connection.execute(insert(CALLS), batch)
                n_calls += len(batch)
            orders = [work_order_row(order, updated_at) for order in work_orders]
            for start in range(0, len(orders), BATCH):
                connection.execute(insert(WORK_ORDERS), orders[start : start + BATCH])
            n_orders = len(orders)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"loading history into {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return n_calls, n_orders


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL's autovacuum would get there
    later; until then it plans a year's aggregates as if the table were empty)."""
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("ANALYZE calls")
                connection.exec_driver_sql("ANALYZE work_orders")
            else:
                connection.exec_driver_sql("ANALYZE")
    except SQLAlchemyError as exc:
        raise StorageError(f"analyzing {mask_url(engine.url)}: {db_reason(exc)}") from exc
