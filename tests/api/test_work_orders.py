"""Dispositions with a category and their work orders, work-order moves and the list, over real
HTTP on a real database (SQLite and PostgreSQL); what the report reads back afterwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine, select

from storage.reports import read_period
from storage.tables import CALLS
from storage.workorders import WorkOrderState, get_work_order
from storage.writer import CallWriter
from telephony.api.server import create_app
from telephony.calls.record import CallRecord
from tests.api.conftest import READ, WRITE, FakeLive, Serve, bearer

Client = aiohttp.ClientSession


def category_of(engine: Engine, call_id: str) -> str | None:
    with engine.connect() as connection:
        value = connection.execute(
            select(CALLS.c.category).where(CALLS.c.call_id == call_id)
        ).scalar_one()
    return None if value is None else str(value)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def setup(
    serve: Serve, live: FakeLive, engine: Engine, make_call: Callable[..., CallRecord], path: Path
) -> tuple[Client, list[CallRecord]]:
    records = [make_call(n) for n in (1, 2, 3)] + [make_call(4, pbx="pbx2", call_id="pbx2:4.4")]
    CallWriter(engine).write(records)
    app = create_app(live, read_tokens=[READ], write_tokens=[WRITE], engine=engine, audit_file=path)
    return await serve(app), records


async def dispose(client: Client, call_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    url = f"/api/calls/{call_id}/disposition"
    async with client.post(url, json=body, headers=bearer(WRITE)) as resp:
        return resp.status, await resp.json()


async def move(
    client: Client, work_order_id: str, body: Any, token: str = WRITE
) -> tuple[int, Any]:
    url = f"/api/work-orders/{work_order_id}"
    async with client.patch(url, json=body, headers=bearer(token)) as resp:
        return resp.status, await resp.json()


async def listing(client: Client, **params: str) -> dict[str, Any]:
    async with client.get("/api/work-orders", params=params, headers=bearer(READ)) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
    return body


async def test_a_disposition_stores_its_category_and_creates_the_work_order(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    due = datetime.now(UTC) + timedelta(days=5)
    body = {
        "disposition": "work_order",
        "work_order_id": "WO-1",
        "category": "供水",
        "due_at": due.isoformat(),
    }
    status, answer = await dispose(client, calls[0].call_id, body)
    assert status == 200, answer
    assert (answer["disposition"], answer["work_order_id"], answer["category"]) == (
        "work_order",
        "WO-1",
        "供水",
    )
    assert answer["work_order"]["state"] == "open"
    assert answer["work_order"]["on_time"] is None
    assert category_of(db_engine, calls[0].call_id) == "供水"
    order = get_work_order(db_engine, "WO-1")
    assert order is not None
    assert (order.call_id, order.pbx, order.state, order.due_at) == (
        calls[0].call_id,
        "pbx1",
        WorkOrderState.OPEN,
        due,
    )

    # The same disposition again changes nothing; one work order.
    status, _ = await dispose(client, calls[0].call_id, body)
    assert status == 200
    assert (await listing(client))["total"] == 1

    # On the spot, with a category; an on-spot without one clears it.
    status, answer = await dispose(
        client, calls[1].call_id, {"disposition": "on_spot", "category": "heating"}
    )
    assert (status, answer["category"], answer["work_order"]) == (200, "heating", None)
    assert category_of(db_engine, calls[1].call_id) == "heating"
    await dispose(client, calls[2].call_id, {"disposition": "on_spot", "category": "供水"})
    async with client.get("/api/calls", params={"pbx": "pbx1"}, headers=bearer(READ)) as resp:
        listed = {c["call_id"]: c["category"] for c in (await resp.json())["items"]}
    expected = ("供水", "heating", "供水")
    assert listed == {r.call_id: c for r, c in zip(calls[:3], expected, strict=True)}

    # Hot issues of the report now see the live contacts' categories.
    day = calls[0].started_at
    assert day is not None
    data = read_period(
        db_engine, day - timedelta(hours=1), day + timedelta(hours=1), service_level_s=15.0
    )
    assert {k: t.contacts for k, t in data.by_category.items()} == {"供水": 2, "heating": 1}
    assert (data.work_orders.created, data.work_orders.closed) == (1, 0)


async def test_work_order_ids_are_not_shared_and_mistakes_are_undone(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    one, two = calls[0].call_id, calls[1].call_id
    assert (await dispose(client, one, {"disposition": "work_order", "work_order_id": "WO-1"}))[
        0
    ] == 200
    status, answer = await dispose(
        client, two, {"disposition": "work_order", "work_order_id": "WO-1"}
    )
    assert status == 409
    assert answer == {"error": f"work order 'WO-1' belongs to call {one!r}"}
    assert category_of(db_engine, two) is None
    stored = get_work_order(db_engine, "WO-1")
    assert stored is not None and stored.call_id == one

    # A typo corrected before anything happened to the work order: the wrong one goes.
    status, _ = await dispose(client, one, {"disposition": "work_order", "work_order_id": "WO-2"})
    assert status == 200
    assert get_work_order(db_engine, "WO-1") is None
    assert [o["work_order_id"] for o in (await listing(client))["items"]] == ["WO-2"]

    # Once it is closed, the disposition no longer changes under it.
    assert (await move(client, "WO-2", {"state": "closed"}))[0] == 200
    status, answer = await dispose(client, one, {"disposition": "on_spot"})
    assert status == 409
    assert "'WO-2' is closed" in answer["error"]
    stored = get_work_order(db_engine, "WO-2")
    assert stored is not None and stored.state is WorkOrderState.CLOSED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"disposition": "on_spot", "category": " water"},
            "body: on_spot.category: String should match pattern",
        ),
        ({"disposition": "on_spot", "category": ""}, "body: on_spot.category: String should"),
        (
            {"disposition": "work_order", "work_order_id": "WO-3", "due_at": "2026-12-01T10:00"},
            "body: work_order.due_at: Input should have timezone info",
        ),
        (
            {"disposition": "work_order", "work_order_id": "WO-3", "due_at": "1969-12-31T10:00Z"},
            "body: work_order.due_at: must be between 1970 and 9998",
        ),
    ],
)
async def test_bad_categories_and_due_times_are_400_naming_the_field(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
    body: dict[str, str],
    message: str,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    status, answer = await dispose(client, calls[0].call_id, body)
    assert status == 400
    assert answer["error"].startswith(message), answer
    assert get_work_order(db_engine, "WO-3") is None
    assert category_of(db_engine, calls[0].call_id) is None


async def test_close_on_time_late_reopen_and_audit(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    client, calls = await setup(serve, live, db_engine, make_call, audit)
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    wo = {"disposition": "work_order"}
    await dispose(client, calls[0].call_id, {**wo, "work_order_id": "WO-ok", "due_at": future})
    await dispose(client, calls[1].call_id, {**wo, "work_order_id": "WO-late", "due_at": past})

    status, ok = await move(client, "WO-ok", {"state": "closed"})
    assert status == 200, ok
    assert (ok["state"], ok["on_time"], ok["reopened"]) == ("closed", True, 0)
    assert ok["closed_at"] is not None
    status, late = await move(client, "WO-late", {"state": "closed"})
    assert (status, late["state"], late["on_time"]) == (200, "closed", False)

    # A dissatisfied callback sends one back: open again, counted, no closing time.
    reason = {"state": "reopened", "reason": "回访不满意 callback dissatisfied"}
    status, back = await move(client, "WO-ok", reason)
    assert (status, back["state"], back["reopened"], back["closed_at"], back["on_time"]) == (
        200,
        "reopened",
        1,
        None,
        None,
    )
    # Moves the life cycle does not have are refused, and change nothing.
    status, answer = await move(client, "WO-ok", {"state": "reopened"})
    assert status == 409
    assert answer == {"error": "work order 'WO-ok' is reopened: it cannot be reopened"}
    status, answer = await move(client, "WO-late", {"state": "closed"})
    assert (status, answer["error"]) == (409, "work order 'WO-late' is closed: it cannot be closed")
    status, answer = await move(client, "WO-nope", {"state": "closed"})
    assert (status, answer) == (404, {"error": "no work order 'WO-nope'"})

    stored = get_work_order(db_engine, "WO-ok")
    assert stored is not None
    assert (stored.state, stored.reopened, stored.closed_at) == (WorkOrderState.REOPENED, 1, None)

    entries = [e for e in audit_lines(audit) if e["action"] == "set work order state"]
    assert [(e["target"], e["status"]) for e in entries] == [
        ("WO-ok", 200),
        ("WO-late", 200),
        ("WO-ok", 200),
        ("WO-ok", 409),
        ("WO-late", 409),
        ("WO-nope", 404),
    ]
    assert entries[2]["details"]["reason"] == reason["reason"]
    assert entries[2]["details"]["state"] == "reopened"
    assert entries[0]["who"].startswith("write:")
    assert WRITE not in audit.read_text(encoding="utf-8")

    # The report's work-order figures, counted on the day of the contacts (created when they
    # ended): 2 created, 1 closed (late), 1 reopened.
    start = calls[0].started_at
    assert start is not None
    data = read_period(db_engine, start, start + timedelta(days=1), service_level_s=15.0)
    wot = data.work_orders
    assert (wot.created, wot.closed, wot.closed_on_time, wot.reopened) == (2, 1, 0, 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "body: state: Field required"),
        ({"state": "open"}, "body: state: Input should be 'closed' or 'reopened'"),
        ({"state": "closed", "at": "2026-01-01T00:00Z"}, "body: at: Extra inputs"),
        ({"state": "closed", "reason": ""}, "body: reason: String should have at least 1"),
        ([1], "body: Input should be a valid dictionary"),
    ],
)
async def test_bad_state_bodies_are_400_naming_the_field(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
    body: Any,
    message: str,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    await dispose(client, calls[0].call_id, {"disposition": "work_order", "work_order_id": "W"})
    status, answer = await move(client, "W", body)
    assert status == 400
    assert answer["error"].startswith(message), answer
    stored = get_work_order(db_engine, "W")
    assert stored is not None and stored.state is WorkOrderState.OPEN


async def test_moving_needs_a_write_token(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    await dispose(client, calls[0].call_id, {"disposition": "work_order", "work_order_id": "W"})
    assert (await move(client, "W", {"state": "closed"}, token=READ))[0] == 403
    async with client.patch("/api/work-orders/W", json={"state": "closed"}) as resp:
        assert resp.status == 401
    async with client.get("/api/work-orders") as resp:
        assert resp.status == 401
    stored = get_work_order(db_engine, "W")
    assert stored is not None and stored.state is WorkOrderState.OPEN


async def test_the_list_filters_and_pages(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    bodies = [
        ("WO-a", past, "water"),
        ("WO-b", future, "heating"),
        ("WO-c", past, None),
        ("WO-d", None, "roads"),
    ]
    for record, (wo, due, category) in zip(calls, bodies, strict=True):
        body: dict[str, Any] = {"disposition": "work_order", "work_order_id": wo}
        if due:
            body["due_at"] = due
        if category:
            body["category"] = category
        status, answer = await dispose(client, record.call_id, body)
        assert status == 200, answer
    await move(client, "WO-c", {"state": "closed"})

    everything = await listing(client)
    assert everything["total"] == 4
    assert [o["work_order_id"] for o in everything["items"]] == ["WO-a", "WO-b", "WO-c", "WO-d"]
    assert [o["category"] for o in everything["items"]] == ["water", "heating", None, "roads"]
    page = await listing(client, limit="2", offset="1")
    assert (page["total"], [o["work_order_id"] for o in page["items"]]) == (4, ["WO-b", "WO-c"])
    assert [o["work_order_id"] for o in (await listing(client, state="closed"))["items"]] == [
        "WO-c"
    ]
    # Overdue: not closed and past due now (WO-c is closed, WO-d has no due time).
    assert [o["work_order_id"] for o in (await listing(client, overdue="true"))["items"]] == [
        "WO-a"
    ]
    assert [o["work_order_id"] for o in (await listing(client, pbx="pbx2"))["items"]] == ["WO-d"]
    only = await listing(client, call_id=calls[1].call_id)
    assert [o["work_order_id"] for o in only["items"]] == ["WO-b"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await listing(client, **{"from": later}))["total"] == 0
    assert (await listing(client, to=later))["total"] == 4

    async with client.get("/api/work-orders/WO-b", headers=bearer(READ)) as resp:
        one = await resp.json()
    assert (one["work_order_id"], one["call_id"], one["category"]) == (
        "WO-b",
        calls[1].call_id,
        "heating",
    )
    async with client.get("/api/work-orders/WO-x", headers=bearer(READ)) as resp:
        assert (resp.status, await resp.json()) == (404, {"error": "no work order 'WO-x'"})
    async with client.get("/api/work-orders?state=lost", headers=bearer(READ)) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith("query: state: Input should be")


async def test_racing_moves_count_once(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    client, calls = await setup(serve, live, db_engine, make_call, tmp_path / "audit.jsonl")
    await dispose(client, calls[0].call_id, {"disposition": "work_order", "work_order_id": "W"})
    for state in ("closed", "reopened"):
        answers = await asyncio.gather(*(move(client, "W", {"state": state}) for _ in range(6)))
        assert sorted(status for status, _ in answers) == [200] + [409] * 5, answers
    stored = get_work_order(db_engine, "W")
    assert stored is not None
    assert (stored.state, stored.reopened) == (WorkOrderState.REOPENED, 1)
