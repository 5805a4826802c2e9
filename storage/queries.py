"""Reading call records back: the export order, one call by id, and outcome counts for reports.

Time windows are half-open, [start, end), on `started_at`, with aware datetimes in any zone;
records come back with aware UTC datetimes. A call without `started_at` is outside every bounded
window and sorts last.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, func, select, true
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.rows import RECORD_FIELDS
from storage.tables import CALLS, record_from_row
from telephony.calls.record import CallRecord

# Rows fetched per round trip while streaming (a server-side cursor on PostgreSQL).
STREAM_BATCH = 1000

_RECORD_COLUMNS = [CALLS.c[name] for name in RECORD_FIELDS]


def iter_calls(
    engine: Engine,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    pbx: str | None = None,
) -> Iterator[CallRecord]:
    """Calls started in [start, end) (a None bound is open), optionally of one PBX, streamed in
    export order: `started_at`, then `call_id`, calls without `started_at` last."""
    where = _window("iter_calls", start, end)
    if pbx is not None:
        where = and_(where, CALLS.c.pbx == pbx)
    query = (
        select(*_RECORD_COLUMNS)
        .where(where)
        .order_by(CALLS.c.started_at.asc().nulls_last(), CALLS.c.call_id.asc())
    )
    return _stream(engine, query)


def _stream(engine: Engine, query: Select[Any]) -> Iterator[CallRecord]:
    # A generator of its own, so iter_calls checks its arguments when called, not when iterated.
    try:
        with engine.connect() as connection:
            result = connection.execution_options(yield_per=STREAM_BATCH).execute(query)
            for row in result.mappings():
                yield record_from_row(row)
    except SQLAlchemyError as exc:
        raise StorageError(f"reading calls from {mask_url(engine.url)}: {db_reason(exc)}") from exc


def get_call(engine: Engine, call_id: str) -> CallRecord | None:
    """The stored record of one call, or None."""
    query = select(*_RECORD_COLUMNS).where(CALLS.c.call_id == call_id)
    try:
        with engine.connect() as connection:
            row = connection.execute(query).mappings().one_or_none()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading call {call_id!r} from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return None if row is None else record_from_row(row)


def count_by_outcome(
    engine: Engine,
    start: datetime | None,
    end: datetime | None,
    *,
    pbx: str | None = None,
) -> dict[str, int]:
    """Number of calls per outcome among calls started in [start, end); absent outcomes omitted."""
    where = _window("count_by_outcome", start, end)
    if pbx is not None:
        where = and_(where, CALLS.c.pbx == pbx)
    query = (
        select(CALLS.c.outcome, func.count())
        .where(where)
        .group_by(CALLS.c.outcome)
        .order_by(CALLS.c.outcome)
    )
    try:
        with engine.connect() as connection:
            return {outcome: int(count) for outcome, count in connection.execute(query)}
    except SQLAlchemyError as exc:
        raise StorageError(
            f"counting outcomes in {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc


def _window(caller: str, start: datetime | None, end: datetime | None) -> ColumnElement[Any]:
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and (bound.tzinfo is None or bound.utcoffset() is None):
            raise ValueError(f"{caller}: {name} {bound.isoformat()} must be timezone-aware")
    conditions: list[ColumnElement[Any]] = []
    if start is not None:
        conditions.append(CALLS.c.started_at >= start)
    if end is not None:
        conditions.append(CALLS.c.started_at < end)
    return and_(true(), *conditions)
