"""Surveys, the follow-up list and the do-not-call list over real HTTP on a real database (SQLite
and PostgreSQL). The surveys are queued, claimed and answered through the survey storage's own
functions, as the dialer does."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine

from storage import survey_dialing as dialing
from storage import surveys as store
from storage.call_pages import set_disposition
from storage.writer import CallWriter
from telephony.api.server import create_app
from telephony.calls.record import CallRecord, Disposition
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    Next,
    SurveyRules,
    after_attempt,
)
from telephony.surveys.settings import SurveySettings
from tests.api.conftest import NUMBERS, READ, WRITE, FakeLive, Serve, bearer

RULES = SurveyRules.from_settings(SurveySettings(quiet_start="00:00", quiet_end="00:00"))
NOW = datetime.now(UTC)


def next_rule(result: AttemptResult, attempts: int, now: datetime, expires: datetime) -> Next:
    return after_attempt(result, attempts, now, expires, RULES)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def seed(engine: Engine, make_call: Callable[..., CallRecord]) -> list[CallRecord]:
    """Four contacts with surveys: 1 rated satisfied, 2 and 3 dissatisfied (3 has a work order),
    4 still pending. Numbers 1380000000n."""
    records = [make_call(n, caller=f"1380000000{n}") for n in (1, 2, 3, 4)]
    CallWriter(engine).write(records)
    set_disposition(engine, records[2].call_id, Disposition.WORK_ORDER, "WO-3", category="供水")
    candidates = [
        Candidate(
            call_id=r.call_id,
            pbx=r.pbx,
            number=r.caller or "",
            agent=r.agent,
            queue=r.queue,
            contact_ended_at=r.ended_at or NOW,
            due_at=NOW - timedelta(minutes=1),
            expires_at=NOW + timedelta(days=3),
        )
        for r in records
    ]
    fates = store.enqueue(engine, candidates, now=NOW, cooldown_since=RULES.cooldown_since(NOW))
    assert set(fates.values()) == {"queued"}
    claims = {c.call_id: c for c in dialing.claim_due(engine, "api-test", NOW, 3)}
    assert set(claims) == {r.call_id for r in records[:3]}  # the oldest three, by due time
    for record, rating in zip(records[:3], (1, 3, 3), strict=True):
        outcome = AttemptOutcome(AttemptResult.COMPLETED, rating=rating)
        dialing.finish_attempt(engine, claims[record.call_id].channel_id, outcome, NOW, next_rule)
    return records


async def start(serve: Serve, engine: Engine, tmp_path: Path) -> aiohttp.ClientSession:
    app = create_app(
        FakeLive(),
        read_tokens=[READ],
        write_tokens=[WRITE],
        numbers_tokens=[NUMBERS],
        engine=engine,
        audit_file=tmp_path / "audit.jsonl",
    )
    return await serve(app)


async def get(client: aiohttp.ClientSession, path: str, token: str = READ, **params: str) -> Any:
    async with client.get(path, params=params, headers=bearer(token)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_surveys_filter_page_and_mask(
    serve: Serve, db_engine: Engine, make_call: Callable[..., CallRecord], tmp_path: Path
) -> None:
    records = seed(db_engine, make_call)
    client = await start(serve, db_engine, tmp_path)
    page = await get(client, "/api/surveys")
    assert page["total"] == 4
    # Newest contact first.
    assert [s["call_id"] for s in page["items"]] == [r.call_id for r in reversed(records)]
    by_call = {s["call_id"]: s for s in page["items"]}
    first = by_call[records[0].call_id]
    assert (first["state"], first["rating"], first["follow_up"]) == ("completed", 1, False)
    assert first["number"] == "138******01"
    assert by_call[records[3].call_id]["state"] == "pending"
    assert (await get(client, "/api/surveys", NUMBERS))["items"][-1]["number"] == "13800000001"

    dissatisfied = await get(client, "/api/surveys", rating="3")
    assert sorted(s["call_id"] for s in dissatisfied["items"]) == [
        records[1].call_id,
        records[2].call_id,
    ]
    assert (await get(client, "/api/surveys", follow_up="true"))["total"] == 2
    assert (await get(client, "/api/surveys", state="pending"))["total"] == 1
    second = await get(client, "/api/surveys", limit="1", offset="1")
    assert (second["total"], [s["call_id"] for s in second["items"]]) == (4, [records[2].call_id])
    window = await get(
        client,
        "/api/surveys",
        **{"from": records[1].ended_at.isoformat(), "to": records[3].ended_at.isoformat()},  # type: ignore[union-attr]
    )
    assert [s["call_id"] for s in window["items"]] == [records[2].call_id, records[1].call_id]

    async with client.get("/api/surveys", params={"rating": "4"}, headers=bearer(READ)) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith("query: rating: ")


async def test_follow_ups_come_with_their_work_order(
    serve: Serve, db_engine: Engine, make_call: Callable[..., CallRecord], tmp_path: Path
) -> None:
    records = seed(db_engine, make_call)
    client = await start(serve, db_engine, tmp_path)
    page = await get(client, "/api/surveys/follow-ups")
    assert page["total"] == 2
    items = {s["call_id"]: s for s in page["items"]}
    assert set(items) == {records[1].call_id, records[2].call_id}
    with_order = items[records[2].call_id]
    assert (with_order["work_order_id"], with_order["work_order_state"]) == ("WO-3", "open")
    assert items[records[1].call_id]["work_order_id"] is None
    assert with_order["number"] == "138******03"

    # The supervisor reopens the work order: the follow-up shows it.
    async with client.patch(
        "/api/work-orders/WO-3", json={"state": "closed"}, headers=bearer(WRITE)
    ) as resp:
        assert resp.status == 200
    async with client.patch(
        "/api/work-orders/WO-3",
        json={"state": "reopened", "reason": "回访不满意"},
        headers=bearer(WRITE),
    ) as resp:
        assert resp.status == 200
    again = await get(client, "/api/surveys/follow-ups")
    reopened = next(s for s in again["items"] if s["call_id"] == records[2].call_id)
    assert (reopened["work_order_state"], reopened["work_order_reopened"]) == ("reopened", 1)


async def test_do_not_call_entries(
    serve: Serve, db_engine: Engine, make_call: Callable[..., CallRecord], tmp_path: Path
) -> None:
    records = seed(db_engine, make_call)
    client = await start(serve, db_engine, tmp_path)
    pending = records[3].caller
    assert pending is not None

    async def post(body: Any, token: str = WRITE) -> tuple[int, Any]:
        async with client.post("/api/dnc", json=body, headers=bearer(token)) as resp:
            return resp.status, await resp.json()

    status, answer = await post({"number": pending, "note": "asked on 12345"})
    assert (status, answer) == (201, {"number": "138******04", "listed": True, "changed": True})
    assert [n for n, _, _ in store.dnc_list(db_engine)] == [pending]
    # Its pending survey is cancelled at once (the survey storage's rule).
    state = {s["call_id"]: s["state"] for s in store.surveys(db_engine)}
    assert state[records[3].call_id] == "cancelled"
    status, answer = await post({"number": pending}, token=WRITE)
    assert (status, answer["changed"]) == (200, False)

    for body, reason in (
        ({"number": "138-0000"}, "body: number: String should match pattern"),
        ({"number": "13800000009", "why": "x"}, "body: why: Extra inputs are not permitted"),
        ({}, "body: number: Field required"),
    ):
        status, answer = await post(body)
        assert status == 400
        assert answer["error"].startswith(reason), answer
    status, answer = await post({"number": "13800000009"}, token=READ)
    assert status == 403

    async with client.delete(f"/api/dnc/{pending}", headers=bearer(WRITE)) as resp:
        assert resp.status == 200
        assert await resp.json() == {"number": "138******04", "listed": False, "changed": True}
    async with client.delete(f"/api/dnc/{pending}", headers=bearer(WRITE)) as resp:
        assert resp.status == 404
    async with client.delete("/api/dnc/abc", headers=bearer(WRITE)) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith("path number: ")
    assert store.dnc_list(db_engine) == []

    entries = audit_lines(tmp_path / "audit.jsonl")
    assert [(e["action"], e["status"]) for e in entries] == [
        ("add do-not-call", 201),
        ("add do-not-call", 200),
        ("add do-not-call", 400),
        ("add do-not-call", 400),
        ("add do-not-call", 400),
        ("remove do-not-call", 200),
        ("remove do-not-call", 404),
        ("remove do-not-call", 400),
    ]
    # Numbers never in full in the audit file.
    assert pending not in (tmp_path / "audit.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["/api/surveys", "/api/surveys/follow-ups"])
async def test_reads_need_a_token(
    serve: Serve, db_engine: Engine, tmp_path: Path, path: str
) -> None:
    client = await start(serve, db_engine, tmp_path)
    async with client.get(path) as resp:
        assert resp.status == 401
