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

from sqlalchemy import Engine, Index, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import UTCDateTime


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
    if row is None:
        return None
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
