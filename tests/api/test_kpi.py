"""/api/reports/kpi summed in the database (SQLite and PostgreSQL), against a hand count: zone
boundaries of days and hours (also a zone 5:45 off UTC), contacts without a queue or agent, PBX
filter, and no call row leaving the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event

from storage.writer import CallWriter
from telephony.api.server import create_app
from telephony.calls.record import CallRecord, Disposition, Kind, Outcome
from tests.api.conftest import FakeLive, Serve

SHANGHAI = ZoneInfo("Asia/Shanghai")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # UTC+05:45


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def seed(engine: Engine, make_call: Callable[..., CallRecord]) -> None:
    """Times in UTC; Shanghai is +8.
    c1 2026-11-23 15:59:59 (23:59:59 Shanghai, 11-23): answered by Agent A, waited 8 s.
    c2 2026-11-23 16:00:00 (00:00 Shanghai, 11-24): answered by Agent B, waited 16 s.
    c3 2026-11-24 02:30 (10:30): abandoned in the queue, no agent.
    c4 2026-11-24 03:00 (11:00): self-service, never queued, no queue, no agent.
    c5 2026-11-24 04:00 (12:00), PBX pbx2: answered by Agent A in hotline-utilities, waited 3 s,
       on the spot, rated satisfied.
    c6 2026-11-24 05:00: a survey call (a callback, not a contact).
    c7 2026-11-24 16:00 (00:00 Shanghai 11-25): answered, after the period."""

    def call(n: int, started: str, **changes: Any) -> CallRecord:
        s = at(started)
        return make_call(n, started_at=s, queued_at=s + timedelta(seconds=5), **changes)

    unanswered = {"answered_at": None, "agent": None, "talk_s": None, "wait_s": None}
    CallWriter(engine).write(
        [
            call(1, "2026-11-23 15:59:59", agent="Agent A"),
            call(2, "2026-11-23 16:00:00", agent="Agent B", wait_s=16.0),
            call(3, "2026-11-24 02:30:00", outcome=Outcome.ABANDONED_QUEUE, **unanswered),
            make_call(
                4,
                started_at=at("2026-11-24 03:00:00"),
                queue=None,
                queued_at=None,
                outcome=Outcome.SELF_SERVICE,
                **unanswered,
            ),
            call(
                5,
                "2026-11-24 04:00:00",
                pbx="pbx2",
                agent="Agent A",
                queue="hotline-utilities",
                wait_s=3.0,
                disposition=Disposition.ON_SPOT,
                survey_rating=1,
            ),
            make_call(
                6,
                started_at=at("2026-11-24 05:00:00"),
                kind=Kind.SURVEY,
                queue=None,
                queued_at=None,
                agent="Agent A",
                outcome=Outcome.SURVEY_COMPLETED,
            ),
            call(7, "2026-11-24 16:00:00", agent="Agent B"),
        ]
    )


async def kpi(client: Any, **params: str) -> dict[str, Any]:
    async with client.get("/api/reports/kpi", params=params) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
    return body


def contacts(report: dict[str, Any]) -> dict[str, int]:
    return {g["key"]: g["figures"]["contacts"] for g in report["groups"]}


async def test_kpi_total_and_groups_equal_a_hand_count(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    seed(db_engine, make_call)
    client = await serve(create_app(live, engine=db_engine, tz=SHANGHAI))
    period = {"from": "2026-11-23", "to": "2026-11-24"}

    total = (await kpi(client, **period))["total"]
    # c1-c5 are the period's contacts; offered c1 c2 c3 c5; answered c1 c2 c5; within 15 s
    # c1 (8 s) and c5 (3 s); abandoned c3; ASA (8 + 16 + 3) / 3; AHT 180 s each.
    assert (total["contacts"], total["offered"], total["answered"]) == (5, 4, 3)
    assert (total["abandoned"], total["self_service"], total["on_spot"]) == (1, 1, 1)
    assert total["service_level"] == pytest.approx(2 / 4)
    assert total["connection_rate"] == pytest.approx(3 / 4)
    assert total["abandonment_rate"] == pytest.approx(1 / 4)
    assert total["asa_s"] == pytest.approx(9.0)
    assert total["aht_s"] == pytest.approx(180.0)
    assert (total["survey_answers"], total["satisfaction_rate"]) == (1, 1.0)

    by_day = await kpi(client, **period, by="day")
    assert contacts(by_day) == {"2026-11-23": 1, "2026-11-24": 4}
    assert by_day["total"] == total
    by_hour = await kpi(client, **period, by="hour")
    assert contacts(by_hour) == {"00": 1, "10": 1, "11": 1, "12": 1, "23": 1}
    by_agent = await kpi(client, **period, by="agent")
    assert contacts(by_agent) == {"(none)": 2, "Agent A": 2, "Agent B": 1}
    agent_a = next(g["figures"] for g in by_agent["groups"] if g["key"] == "Agent A")
    assert (agent_a["answered"], agent_a["asa_s"]) == (2, pytest.approx(5.5))
    by_queue = await kpi(client, **period, by="queue")
    assert contacts(by_queue) == {"(none)": 1, "hotline": 3, "hotline-utilities": 1}
    for report in (by_hour, by_agent, by_queue):
        assert report["total"] == total  # the groups add up to the period

    pbx2 = await kpi(client, **period, by="agent", pbx="pbx2")
    assert contacts(pbx2) == {"Agent A": 1}
    assert pbx2["total"]["contacts"] == 1
    one_day = await kpi(client, **{"from": "2026-11-24", "to": "2026-11-24"})
    assert one_day["total"]["contacts"] == 4  # c2-c5; c7 is 11-25 in Shanghai


async def test_kpi_hours_in_a_zone_off_a_whole_hour(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    seed(db_engine, make_call)
    client = await serve(create_app(live, engine=db_engine, tz=KATHMANDU))
    report = await kpi(client, **{"from": "2026-11-23", "to": "2026-11-24"}, by="hour")
    # +05:45: c1 21:44:59, c2 21:45, c3 08:15, c4 08:45, c5 09:45, c7 (11-24) 21:45.
    assert contacts(report) == {"08": 2, "09": 1, "21": 3}


async def test_kpi_never_ships_call_rows(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    seed(db_engine, make_call)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.lower())

    event.listen(db_engine, "before_cursor_execute", seen)
    try:
        client = await serve(create_app(live, engine=db_engine, tz=SHANGHAI))
        for by in ("total", "queue", "agent", "day", "hour"):
            await kpi(client, **{"from": "2026-11-23", "to": "2026-11-24"}, by=by)
    finally:
        event.remove(db_engine, "before_cursor_execute", seen)
    reads = [s for s in statements if "from calls" in s]
    assert len(reads) == 5
    for statement in reads:
        assert "count(" in statement
        assert "caller" not in statement  # aggregates only, no records


async def test_kpi_extreme_and_reversed_periods_are_empty_not_errors(
    serve: Serve, live: FakeLive, db_engine: Engine, make_call: Callable[..., CallRecord]
) -> None:
    seed(db_engine, make_call)
    client = await serve(create_app(live, engine=db_engine, tz=SHANGHAI))
    everything = await kpi(client, **{"from": "0001-01-01", "to": "9999-12-31"}, by="day")
    assert contacts(everything) == {"2026-11-23": 1, "2026-11-24": 4, "2026-11-25": 1}
    reversed_ = await kpi(client, **{"from": "2026-11-24", "to": "2026-11-23"}, by="hour")
    assert (reversed_["total"]["contacts"], reversed_["groups"]) == (0, [])
