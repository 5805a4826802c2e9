"""Call records for the supervisor API: filtered pages with a total, and a contact's disposition.

Windows are half-open on `started_at` like :mod:`storage.queries`; pages come in export order
(`started_at`, then `call_id`). Setting a disposition touches only the enrichment columns, which
the batched writer never erases when it re-writes a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, select, true, update
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import CALLS, RECORD_FIELDS, record_from_row
from telephony.calls.record import CallRecord, Disposition


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls: a window on `started_at` (aware bounds) and equality filters."""

    start: datetime | None = None
    end: datetime | None = None
    pbx: str | None = None
    queue: str | None = None
    agent: str | None = None
    outcome: str | None = None
    kind: str | None = None

    def where(self) -> ColumnElement[Any]:
        """The SQL condition."""
        conditions: list[ColumnElement[Any]] = []
        for name, bound in (("start", self.start), ("end", self.end)):
            if bound is not None and bound.utcoffset() is None:
                raise ValueError(f"call filter: {name} must be timezone-aware")
        if self.start is not None:
            conditions.append(CALLS.c.started_at >= self.start)
        if self.end is not None:
            conditions.append(CALLS.c.started_at < self.end)
        for column in ("pbx", "queue", "agent", "outcome", "kind"):
            value = getattr(self, column)
            if value is not None:
                conditions.append(CALLS.c[column] == value)
        return and_(true(), *conditions)


def page_calls(
    engine: Engine, where: CallFilter, *, limit: int, offset: int
) -> tuple[int, list[CallRecord]]:
    """How many calls match, and the `limit` of them after `offset`, in export order."""
    condition = where.where()
    count = select(func.count()).select_from(CALLS).where(condition)
    query = (
        select(*(CALLS.c[name] for name in RECORD_FIELDS))
        .where(condition)
        .order_by(CALLS.c.started_at.asc().nulls_last(), CALLS.c.call_id.asc())
        .limit(limit)
        .offset(offset)
    )
    try:
        with engine.connect() as connection:
            total = int(connection.execute(count).scalar_one())
            rows = [record_from_row(row) for row in connection.execute(query).mappings()]
    except SQLAlchemyError as exc:
        raise StorageError(f"reading calls from {mask_url(engine.url)}: {db_reason(exc)}") from exc
    return total, rows


def set_disposition(
    engine: Engine, call_id: str, disposition: Disposition, work_order_id: str | None
) -> bool:
    """Record what became of a contact; False when there is no such call."""
    statement = (
        update(CALLS)
        .where(CALLS.c.call_id == call_id)
        .values(
            disposition=disposition.value,
            work_order_id=work_order_id,
            updated_at=datetime.now(UTC),
        )
    )
    try:
        with engine.begin() as connection:
            return connection.execute(statement).rowcount > 0
    except SQLAlchemyError as exc:
        raise StorageError(
            f"setting the disposition of {call_id!r} in {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc


__all__ = ["CallFilter", "page_calls", "set_disposition"]
