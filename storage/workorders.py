"""The `work_orders` table: one row per work order (工单) a contact became, and its life cycle.

A work order is created open with a due time; it is closed (on time when `closed_at <= due_at`),
and may be reopened (a dissatisfied callback sends it back to the department), which clears
`closed_at` and counts `reopened`. The contact it came from is `call_id`; its category is the
contact's (`calls.category`), not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, Index, Table, and_, func, insert, select, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import CALLS, UTCDateTime


class WorkOrderState(StrEnum):
    """Where a work order is."""

    OPEN = "open"
    CLOSED = "closed"
    REOPENED = "reopened"


class WorkOrderRow(SQLModel, table=True):
    """One work order; times are UTC."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_created_at", "created_at"),
        Index("ix_work_orders_call_id", "call_id"),
    )

    work_order_id: str = Field(primary_key=True)
    call_id: str | None = None
    pbx: str | None = None
    state: str
    created_at: datetime = Field(sa_type=UTCDateTime())
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    reopened: int = 0
    updated_at: datetime = Field(sa_type=UTCDateTime())


WORK_ORDERS: Table = WorkOrderRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A work order as the domain sees it (aware datetimes)."""

    work_order_id: str
    call_id: str | None
    pbx: str | None
    state: WorkOrderState
    created_at: datetime
    due_at: datetime | None = None
    closed_at: datetime | None = None
    reopened: int = 0


def work_order_row(order: WorkOrder, updated_at: datetime) -> dict[str, Any]:
    """The `work_orders` row values of a work order."""
    return {
        "work_order_id": order.work_order_id,
        "call_id": order.call_id,
        "pbx": order.pbx,
        "state": order.state.value,
        "created_at": order.created_at,
        "due_at": order.due_at,
        "closed_at": order.closed_at,
        "reopened": order.reopened,
        "updated_at": updated_at,
    }


def insert_work_orders(engine: Engine, orders: Iterable[WorkOrder], updated_at: datetime) -> int:
    """Insert new work orders in one transaction (a duplicate id is an error); the count written."""
    rows = [work_order_row(order, updated_at) for order in orders]
    if not rows:
        return 0
    try:
        with engine.begin() as connection:
            connection.execute(insert(WORK_ORDERS), rows)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"writing {len(rows)} work orders to {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return len(rows)


def set_work_order_state(
    engine: Engine, work_order_id: str, state: WorkOrderState, at: datetime
) -> bool:
    """Move a work order: closed (at `at`), reopened (closed_at cleared, `reopened` counted) or
    open again; False when there is no such work order."""
    w = WORK_ORDERS.c
    values: dict[str, Any] = {"state": state.value, "updated_at": at}
    if state is WorkOrderState.CLOSED:
        values["closed_at"] = at
    elif state is WorkOrderState.REOPENED:
        values["closed_at"] = None
        values["reopened"] = w.reopened + 1
    else:
        values["closed_at"] = None
    statement = update(WORK_ORDERS).where(w.work_order_id == work_order_id).values(**values)
    try:
        with engine.begin() as connection:
            return connection.execute(statement).rowcount > 0
    except SQLAlchemyError as exc:
        raise StorageError(
            f"updating work order {work_order_id!r} in {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc


def work_order_of(row: Any) -> WorkOrder:
    """The work order of a `work_orders` row (a Core row mapping)."""
    return WorkOrder(
        work_order_id=row["work_order_id"],
        call_id=row["call_id"],
        pbx=row["pbx"],
        state=WorkOrderState(row["state"]),
        created_at=row["created_at"],
        due_at=row["due_at"],
        closed_at=row["closed_at"],
        reopened=row["reopened"],
    )


def get_work_order(engine: Engine, work_order_id: str) -> WorkOrder | None:
    """The stored work order, or None."""
    query = select(WORK_ORDERS).where(WORK_ORDERS.c.work_order_id == work_order_id)
    try:
        with engine.connect() as connection:
            row = connection.execute(query).mappings().one_or_none()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading work order {work_order_id!r} from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return None if row is None else work_order_of(row)


# --- the API's writes and lists -------------------------------------------------------------------


class TransitionError(Exception):
    """A state change the work order's life cycle does not allow; the message says why."""


ALLOWED_FROM: dict[WorkOrderState, frozenset[WorkOrderState]] = {
    WorkOrderState.CLOSED: frozenset({WorkOrderState.OPEN, WorkOrderState.REOPENED}),
    WorkOrderState.REOPENED: frozenset({WorkOrderState.CLOSED}),
    WorkOrderState.OPEN: frozenset(),
}
"""Which states a work order may be moved to a state from (it is created open)."""


def move_work_order(
    engine: Engine, work_order_id: str, state: WorkOrderState, at: datetime
) -> WorkOrder | None:
    """Close or reopen a work order at `at`, checking the move in the same transaction (the row
    is locked on PostgreSQL); the work order as stored now, or None when there is none.
    :class:`TransitionError` for a move its state does not allow (closing a closed one,
    reopening an open one) or a time before it was created."""
    w = WORK_ORDERS.c
    query = select(WORK_ORDERS).where(w.work_order_id == work_order_id).with_for_update()
    try:
        with engine.begin() as connection:
            row = connection.execute(query).mappings().one_or_none()
            if row is None:
                return None
            order = work_order_of(row)
            if order.state not in ALLOWED_FROM[state]:
                raise TransitionError(
                    f"work order {work_order_id!r} is {order.state.value}: it cannot be "
                    f"{state.value}"
                )
            if at < order.created_at:
                raise TransitionError(
                    f"work order {work_order_id!r} was created at "
                    f"{order.created_at.isoformat()}, after {at.isoformat()}"
                )
            values: dict[str, Any] = {"state": state.value, "updated_at": at}
            if state is WorkOrderState.CLOSED:
                values["closed_at"] = at
            else:
                values["closed_at"] = None
                values["reopened"] = w.reopened + 1
            # The state is checked again by the UPDATE itself: of two requests racing (SQLite
            # reads outside the write lock), one moves it and the other finds it moved.
            allowed = sorted(s.value for s in ALLOWED_FROM[state])
            done = connection.execute(
                update(WORK_ORDERS)
                .where(w.work_order_id == work_order_id, w.state.in_(allowed))
                .values(**values)
            )
            if done.rowcount != 1:
                raise TransitionError(
                    f"work order {work_order_id!r} was just moved by another request: it "
                    f"cannot be {state.value}"
                )
            moved = connection.execute(select(WORK_ORDERS).where(w.work_order_id == work_order_id))
            return work_order_of(moved.mappings().one())
    except SQLAlchemyError as exc:
        raise StorageError(
            f"updating work order {work_order_id!r} in {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc


@dataclass(frozen=True, slots=True)
class WorkOrderFilter:
    """Which work orders: created in [start, end) (aware bounds), equality filters, and those
    still open (open or reopened) past their due time at `overdue_at`."""

    start: datetime | None = None
    end: datetime | None = None
    state: WorkOrderState | None = None
    pbx: str | None = None
    call_id: str | None = None
    overdue_at: datetime | None = None
    work_order_id: str | None = None

    def where(self) -> ColumnElement[bool]:
        """The SQL condition."""
        w = WORK_ORDERS.c
        conditions: list[ColumnElement[bool]] = [true()]
        if self.start is not None:
            conditions.append(w.created_at >= self.start)
        if self.end is not None:
            conditions.append(w.created_at < self.end)
        if self.state is not None:
            conditions.append(w.state == self.state.value)
        if self.pbx is not None:
            conditions.append(w.pbx == self.pbx)
        if self.call_id is not None:
            conditions.append(w.call_id == self.call_id)
        if self.work_order_id is not None:
            conditions.append(w.work_order_id == self.work_order_id)
        if self.overdue_at is not None:
            conditions.append(w.closed_at.is_(None))
            conditions.append(w.due_at < self.overdue_at)
        return and_(*conditions)


def page_work_orders(
    engine: Engine, where: WorkOrderFilter, *, limit: int, offset: int
) -> tuple[int, list[tuple[WorkOrder, str | None]]]:
    """How many work orders match, and `limit` of them after `offset` (oldest first), each
    with its contact's category (None when the contact is not stored or has none)."""
    w = WORK_ORDERS.c
    condition = where.where()
    count = select(func.count()).select_from(WORK_ORDERS).where(condition)
    query = (
        select(WORK_ORDERS, CALLS.c.category)
        .select_from(WORK_ORDERS.outerjoin(CALLS, CALLS.c.call_id == w.call_id))
        .where(condition)
        .order_by(w.created_at, w.work_order_id)
        .limit(limit)
        .offset(offset)
    )
    try:
        with engine.connect() as connection:
            total = int(connection.execute(count).scalar_one())
            rows = connection.execute(query).mappings().all()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading work orders from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return total, [(work_order_of(row), row["category"]) for row in rows]
