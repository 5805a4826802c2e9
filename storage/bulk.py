"""Bulk loading of generated history (`hotline seed-year`): `COPY` on PostgreSQL, the driver's
`executemany` on SQLite, in one transaction.

Not the daemon's write path (that is `writer.CallWriter`, an idempotent upsert): loading refuses
rows that are already there, so it is only used on a period the database has no calls in. Rows
are built by the same `record_to_row` as the writer's, then put in the stored form the column
types would produce (UTC text on SQLite, JSON text for lists) without SQLAlchemy's per-value
processing, which cost most of the time (~12 k rows/s through Core against ~100 k here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.rows import record_to_row
from storage.tables import CALLS
from storage.workorders import WORK_ORDERS, WorkOrder, work_order_row
from telephony.calls.record import CallRecord

BATCH = 10_000


def load_history(
    engine: Engine,
    calls: Iterable[tuple[CallRecord, str | None]],
    work_orders: Iterable[WorkOrder],
    updated_at: datetime,
) -> tuple[int, int]:
    """Insert (record, category) pairs and work orders in one transaction; the counts written."""

    def call_rows() -> Iterator[dict[str, Any]]:
        for record, category in calls:
            row = record_to_row(record, updated_at)
            row["category"] = category
            yield row

    order_rows = (work_order_row(order, updated_at) for order in work_orders)
    try:
        with engine.begin() as connection:
            n_calls = _load(connection, CALLS, call_rows())
            n_orders = _load(connection, WORK_ORDERS, order_rows)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"loading history into {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    except psycopg.Error as exc:  # COPY talks to the driver directly
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise StorageError(f"loading history into {mask_url(engine.url)}: {reason}") from exc
    except ValueError as exc:  # a naive time, caught by record_to_row or here
        raise StorageError(f"loading history: {exc}") from exc
    return n_calls, n_orders


def _stored(value: Any, sqlite: bool) -> Any:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: stored times must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else value
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _load(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    names = [column.name for column in table.columns]
    sqlite = connection.dialect.name == "sqlite"
    count = 0
    if sqlite:
        # INSERT INTO t (every column, in table order) VALUES (?, …), as SQLAlchemy writes it.
        statement = str(insert(table).compile(dialect=connection.dialect))
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(_stored(row.get(name), True) for name in names))
            if len(batch) >= BATCH:
                connection.exec_driver_sql(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            connection.exec_driver_sql(statement, batch)
            count += len(batch)
        return count
    # PostgreSQL (psycopg 3): COPY … FROM STDIN, text values cast by the server.
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(tuple(_stored(row.get(name), False) for name in names))
            count += 1
    return count


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
