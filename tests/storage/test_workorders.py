"""The work-order table: insert, close, reopen, read back (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from storage import StorageError
from storage.workorders import (
    WorkOrder,
    WorkOrderState,
    get_work_order,
    insert_work_orders,
    set_work_order_state,
)

T0 = datetime(2019, 3, 4, 2, 0, tzinfo=UTC)


def test_life_cycle_of_a_work_order(db_engine: Engine) -> None:
    order = WorkOrder(
        "WO-7", "pbx1:1.1", "pbx1", WorkOrderState.OPEN, T0, due_at=T0 + timedelta(days=7)
    )
    assert insert_work_orders(db_engine, [order], T0) == 1
    assert get_work_order(db_engine, "WO-7") == order

    closed_at = T0 + timedelta(days=2)
    assert set_work_order_state(db_engine, "WO-7", WorkOrderState.CLOSED, closed_at)
    got = get_work_order(db_engine, "WO-7")
    assert got is not None
    assert (got.state, got.closed_at, got.reopened) == (WorkOrderState.CLOSED, closed_at, 0)

    reopened_at = T0 + timedelta(days=4)
    assert set_work_order_state(db_engine, "WO-7", WorkOrderState.REOPENED, reopened_at)
    got = get_work_order(db_engine, "WO-7")
    assert got is not None
    assert (got.state, got.closed_at, got.reopened) == (WorkOrderState.REOPENED, None, 1)

    assert not set_work_order_state(db_engine, "WO-nope", WorkOrderState.CLOSED, T0)
    assert get_work_order(db_engine, "WO-nope") is None


def test_a_duplicate_work_order_is_refused(db_engine: Engine) -> None:
    order = WorkOrder("WO-8", None, "pbx1", WorkOrderState.OPEN, T0)
    insert_work_orders(db_engine, [order], T0)
    with pytest.raises(StorageError, match="writing 1 work orders"):
        insert_work_orders(db_engine, [order], T0)


def test_naive_times_are_refused(db_engine: Engine) -> None:
    order = WorkOrder("WO-9", None, None, WorkOrderState.OPEN, datetime(2019, 1, 1))
    with pytest.raises(StorageError):
        insert_work_orders(db_engine, [order], T0)


def test_moves_follow_the_life_cycle(db_engine: Engine) -> None:
    from storage.workorders import TransitionError, move_work_order

    order = WorkOrder("WO-m", "pbx1:1.1", "pbx1", WorkOrderState.OPEN, T0, due_at=T0)
    insert_work_orders(db_engine, [order], T0)
    with pytest.raises(TransitionError, match="was created at 2019-03-04T02:00:00"):
        move_work_order(db_engine, "WO-m", WorkOrderState.CLOSED, T0 - timedelta(seconds=1))
    with pytest.raises(TransitionError, match="'WO-m' is open: it cannot be reopened"):
        move_work_order(db_engine, "WO-m", WorkOrderState.REOPENED, T0)
    with pytest.raises(TransitionError, match="it cannot be open"):
        move_work_order(db_engine, "WO-m", WorkOrderState.OPEN, T0)
    late = T0 + timedelta(hours=1)
    moved = move_work_order(db_engine, "WO-m", WorkOrderState.CLOSED, late)
    assert moved is not None
    assert (moved.state, moved.closed_at, moved.reopened) == (WorkOrderState.CLOSED, late, 0)
    again = move_work_order(db_engine, "WO-m", WorkOrderState.REOPENED, late)
    assert again is not None
    assert (again.state, again.closed_at, again.reopened) == (WorkOrderState.REOPENED, None, 1)
    assert get_work_order(db_engine, "WO-m") == again
    assert move_work_order(db_engine, "WO-none", WorkOrderState.CLOSED, late) is None


def test_pages_of_work_orders(db_engine: Engine) -> None:
    from storage.workorders import WorkOrderFilter, page_work_orders

    orders = [
        WorkOrder(
            f"WO-{n}",
            None,
            "pbx1",
            WorkOrderState.OPEN,
            T0 + timedelta(hours=n),
            due_at=T0 + timedelta(days=n),
        )
        for n in range(5)
    ]
    insert_work_orders(db_engine, orders, T0)
    total, page = page_work_orders(db_engine, WorkOrderFilter(), limit=2, offset=3)
    assert (total, [o.work_order_id for o, _ in page]) == (5, ["WO-3", "WO-4"])
    assert {category for _, category in page} == {None}  # no contact stored
    overdue = WorkOrderFilter(overdue_at=T0 + timedelta(days=2, hours=1))
    total, page = page_work_orders(db_engine, overdue, limit=10, offset=0)
    assert [o.work_order_id for o, _ in page] == ["WO-0", "WO-1", "WO-2"]
    window = WorkOrderFilter(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3))
    assert page_work_orders(db_engine, window, limit=10, offset=0)[0] == 2
