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
