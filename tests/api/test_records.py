"""/api/calls and /api/reports/kpi over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from storage.writer import CallWriter
from telephony.api.server import create_app
from telephony.calls.record import CallRecord, Kind, Outcome
from tests.api.conftest import NUMBERS, READ, FakeLive, Serve, bearer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def seed(engine: Engine, make_call: Callable[..., CallRecord]) -> list[CallRecord]:
    """Six records a minute apart from 02:01 UTC (10:01 Shanghai), 2026-11-24:
    1-3 answered in `hotline` (waits 8, 8, 20 s), 4 abandoned in `hotline`, 5 answered in
    `hotline-utilities`, 6 a survey call (not a contact)."""
    records = [
        make_call(1),
        make_call(2),
        make_call(3, wait_s=20.0),
        make_call(4, outcome=Outcome.ABANDONED_QUEUE, answered_at=None, agent=None, talk_s=None),
        make_call(5, queue="hotline-utilities", agent="Agent 2001"),
        make_call(6, kind=Kind.SURVEY, queue=None, queued_at=None, caller="13911112222"),
    ]
    CallWriter(engine).write(records)
    return records


async def test_calls_page_filters_and_total(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    records = seed(db_engine, make_call)
    client = await serve(create_app(live, read_tokens=[READ], engine=db_engine))
    async with client.get("/api/calls?limit=2&offset=1", headers=bearer(READ)) as resp:
        assert resp.status == 200
        page = await resp.json()
    assert page["total"] == 6
    assert [c["call_id"] for c in page["items"]] == [r.call_id for r in records[1:3]]
    start = records[2].started_at
    assert start is not None
    query = {"queue": "hotline", "from": start.isoformat(), "outcome": "abandoned_queue"}
    async with client.get("/api/calls", params=query, headers=bearer(READ)) as resp:
        page = await resp.json()
    assert [c["call_id"] for c in page["items"]] == [records[3].call_id]
    end = (start + timedelta(minutes=1)).isoformat()
    async with client.get("/api/calls", params={"to": end}, headers=bearer(READ)) as resp:
        assert (await resp.json())["total"] == 3  # [.., 02:04) holds calls 1-3


@pytest.mark.parametrize(("token", "masked"), [(READ, True), (NUMBERS, False)])
async def test_calls_mask_numbers_unless_allowed(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    token: str,
    masked: bool,
) -> None:
    seed(db_engine, make_call)
    app = create_app(live, read_tokens=[READ], numbers_tokens=[NUMBERS], engine=db_engine)
    client = await serve(app)
    async with client.get("/api/calls", headers=bearer(token)) as resp:
        items = (await resp.json())["items"]
    callers = {c["caller"] for c in items}
    if masked:
        assert callers == {"138******00", "139******22"}
    else:
        assert callers == {"13800138000", "13911112222"}
    async with client.get("/api/calls?format=csv", headers=bearer(token)) as resp:
        assert resp.content_type == "text/csv"
        assert resp.headers["X-Total-Count"] == "6"
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert len(rows) == 6
    assert ("13800138000" in {r["caller"] for r in rows}) is not masked
    assert {r["dialed"] for r in rows} == {"12345"}  # the hotline's own number, not a citizen's
    assert rows[0]["ivr_path"] == "1/2"


async def test_calls_without_a_database_is_503_json(serve: Serve, live: FakeLive) -> None:
    client = await serve(create_app(live))
    async with client.get("/api/calls") as resp:
        assert resp.status == 503
        assert await resp.json() == {"error": "no database is attached to this daemon"}


async def test_kpi_by_queue_equals_a_hand_count(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    seed(db_engine, make_call)
    client = await serve(create_app(live, engine=db_engine, tz=SHANGHAI))
    params = {"from": "2026-11-24", "to": "2026-11-24", "by": "queue"}
    async with client.get("/api/reports/kpi", params=params) as resp:
        assert resp.status == 200
        report = await resp.json()
    assert (report["from"], report["to"], report["by"]) == ("2026-11-24", "2026-11-24", "queue")
    total = report["total"]
    # Hand count: 5 contacts (the survey call is not one), all offered, 4 answered, 1 abandoned;
    # within 15 s: calls 1, 2, 5 (call 3 waited 20 s); ASA (8 + 8 + 20 + 8) / 4 = 11.
    assert (total["contacts"], total["offered"], total["answered"]) == (5, 5, 4)
    assert total["connection_rate"] == pytest.approx(4 / 5)
    assert total["service_level"] == pytest.approx(3 / 5)
    assert total["abandonment_rate"] == pytest.approx(1 / 5)
    assert total["asa_s"] == pytest.approx(11.0)
    groups = {g["key"]: g["figures"] for g in report["groups"]}
    assert set(groups) == {"hotline", "hotline-utilities"}
    assert groups["hotline"]["offered"] == 4
    assert groups["hotline"]["answered"] == 3
    assert groups["hotline-utilities"]["service_level"] == 1.0


async def test_kpi_by_hour_uses_the_reporting_zone(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    seed(db_engine, make_call)
    client = await serve(create_app(live, engine=db_engine, tz=SHANGHAI))
    params = {"from": "2026-11-24", "to": "2026-11-24", "by": "hour"}
    async with client.get("/api/reports/kpi", params=params) as resp:
        report = await resp.json()
    assert [(g["key"], g["figures"]["contacts"]) for g in report["groups"]] == [("10", 5)]
    # The day before, in the same zone, is empty: ratios are null, not 0.
    params = {"from": "2026-11-23", "to": "2026-11-23"}
    async with client.get("/api/reports/kpi", params=params) as resp:
        empty = (await resp.json())["total"]
    assert empty["contacts"] == 0
    assert empty["connection_rate"] is None


async def test_an_outbound_calls_dialed_number_is_the_citizens_and_masked(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    from telephony.calls.record import Direction

    survey = make_call(
        7, direction=Direction.OUTBOUND, kind=Kind.SURVEY, caller="12345", dialed="13911112222"
    )
    CallWriter(db_engine).write([survey])
    client = await serve(create_app(live, engine=db_engine))
    async with client.get("/api/calls") as resp:
        (item,) = (await resp.json())["items"]
    assert (item["caller"], item["dialed"]) == ("*****", "139******22")
