"""Call records for the supervisor API: filtered pages with a total, and a contact's disposition.

Windows are half-open on `started_at` like :mod:`storage.queries`; pages come in export order
(`started_at`, then `call_id`). Setting a disposition touches only the enrichment columns, which
the batched writer never erases when it re-writes a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.rows import RECORD_FIELDS
from storage.tables import CALLS, record_from_row
from storage.workorders import (
    WORK_ORDERS,
    WorkOrder,
    WorkOrderState,
    work_order_of,
    work_order_row,
)
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
) -> tuple[int, list[tuple[CallRecord, str | None]]]:
    """How many calls match, and the `limit` of them after `offset`, in export order, each with
    its disposition's category (not part of the record)."""
    condition = where.where()
    count = select(func.count()).select_from(CALLS).where(condition)
    query = (
        select(*(CALLS.c[name] for name in RECORD_FIELDS), CALLS.c.category)
        .where(condition)
        .order_by(CALLS.c.started_at.asc().nulls_last(), CALLS.c.call_id.asc())
        .limit(limit)
        .offset(offset)
    )
    try:
        with engine.connect() as connection:
            total = int(connection.execute(count).scalar_one())
            rows = [
                (record_from_row(row), row["category"])
                for row in connection.execute(query).mappings()
            ]
    except SQLAlchemyError as exc:
        raise StorageError(f"reading calls from {mask_url(engine.url)}: {db_reason(exc)}") from exc
    return total, rows


class DispositionError(Exception):
    """A disposition that contradicts what is stored: the message says what and where."""


@dataclass(frozen=True, slots=True)
class Disposed:
    """A disposition as stored: the contact's category and, for a work order, the work order."""

    category: str | None
    work_order: WorkOrder | None


def set_disposition(
    engine: Engine,
    call_id: str,
    disposition: Disposition,
    work_order_id: str | None,
    *,
    category: str | None = None,
    due_at: datetime | None = None,
    at: datetime | None = None,
) -> Disposed | None:
    """Record what became of a contact, in one transaction; None when there is no such call.

    The disposition, work order id and category replace the stored ones (a category left out
    clears it). A work order gets its `work_orders` row, open, created when the contact ended
    (at the latest `at`, now), due at `due_at`, unless it exists already for this contact
    (then it is kept as it is). A work order id another contact holds is a
    :class:`DispositionError`. A work order this contact held before, still open and never
    closed or reopened, is deleted: it was a mistake, and the report would count it. One that
    has moved on is kept, and the disposition is refused (:class:`DispositionError`).
    """
    now = at or datetime.now(UTC)
    try:
        with engine.begin() as connection:
            found = connection.execute(
                select(
                    CALLS.c.pbx, CALLS.c.work_order_id, CALLS.c.ended_at, CALLS.c.started_at
                ).where(CALLS.c.call_id == call_id)
            ).one_or_none()
            if found is None:
                return None
            pbx, previous_id, ended_at, started_at = found
            # Created when the operator took the request: the contact's end (as the report's
            # generator has it), never later than now (a PBX clock may run ahead).
            created = min(ended_at or started_at or now, now)
            if previous_id is not None and previous_id != work_order_id:
                _drop_untouched(connection, previous_id, call_id)
            order: WorkOrder | None = None
            if disposition is Disposition.WORK_ORDER and work_order_id is not None:
                order = _work_order_for(
                    connection, work_order_id, call_id, pbx, due_at, created, now
                )
            connection.execute(
                update(CALLS)
                .where(CALLS.c.call_id == call_id)
                .values(
                    disposition=disposition.value,
                    work_order_id=work_order_id,
                    category=category,
                    updated_at=now,
                )
            )
    except IntegrityError:
        # Another request created the same work order id between our read and our insert.
        raise DispositionError(
            f"work order {work_order_id!r} was just created by another request; try again"
        ) from None
    except SQLAlchemyError as exc:
        raise StorageError(
            f"setting the disposition of {call_id!r} in {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return Disposed(category=category, work_order=order)


def _drop_untouched(connection: Connection, work_order_id: str, call_id: str) -> None:
    w = WORK_ORDERS.c
    held = connection.execute(
        select(w.state, w.closed_at, w.reopened).where(
            w.work_order_id == work_order_id, w.call_id == call_id
        )
    ).one_or_none()
    if held is None:
        return
    state, closed_at, reopened = held
    if state != WorkOrderState.OPEN.value or closed_at is not None or reopened:
        raise DispositionError(
            f"call {call_id!r}: its work order {work_order_id!r} is {state}; "
            "change the work order, not the disposition"
        )
    connection.execute(delete(WORK_ORDERS).where(w.work_order_id == work_order_id))


def _work_order_for(
    connection: Connection,
    work_order_id: str,
    call_id: str,
    pbx: str | None,
    due_at: datetime | None,
    created: datetime,
    now: datetime,
) -> WorkOrder:
    w = WORK_ORDERS.c
    row = (
        connection.execute(select(WORK_ORDERS).where(w.work_order_id == work_order_id))
        .mappings()
        .one_or_none()
    )
    if row is not None:
        if row["call_id"] != call_id:
            raise DispositionError(
                f"work order {work_order_id!r} belongs to call {row['call_id']!r}"
            )
        return work_order_of(row)
    order = WorkOrder(
        work_order_id=work_order_id,
        call_id=call_id,
        pbx=pbx,
        state=WorkOrderState.OPEN,
        created_at=created,
        due_at=due_at,
    )
    connection.execute(insert(WORK_ORDERS).values(work_order_row(order, now)))
    return order


__all__ = ["CallFilter", "Disposed", "DispositionError", "page_calls", "set_disposition"]
