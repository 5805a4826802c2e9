"""Surveys end to end over real AMI: the daemon dials the simulator, which answers like citizens.

The expected result of every survey is read from what an independent AMI client (the witness)
saw the PBX do — channels placed, failed OriginateResponses, the keys pressed — never from the
dialer's own bookkeeping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage import get_call, make_engine
from storage import surveys as store
from storage.writer import CallWriter
from telephony.app import Daemon
from telephony.calls.record import CallRecord
from telephony.config import Settings
from telephony.simulator.server import SimulatorServer
from tests.simulator.amiclient import AmiTestClient
from tests.surveys.conftest import queue_surveys, sim_now, survey_settings, wait_for

FINAL = {"completed", "no_answer", "busy", "failed", "refused", "expired", "cancelled"}


@pytest.fixture
async def daemons() -> AsyncIterator[Callable[[Settings], Daemon]]:
    started: list[Daemon] = []

    def make(settings: Settings) -> Daemon:
        daemon = Daemon(settings)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        await daemon.stop()


def numbers(n: int, base: int = 13800000100) -> list[str]:
    return [str(base + i) for i in range(n)]


def witnessed(watcher: AmiTestClient, number: str) -> tuple[int, str]:
    """``(calls placed, expected state)`` of one single-attempt survey, as the PBX showed it."""
    prefix = f"IAX2/carrier/{number}-"
    placed = [
        f
        for f in watcher.events("Newchannel")
        if (f.headers.get("Channel") or "").startswith(prefix)
    ]
    failed = watcher.events(
        "OriginateResponse", Response="Failure", Channel=f"IAX2/carrier/{number}"
    )
    if failed:
        reason = failed[0].headers["Reason"]
        return len(placed), {"5": "busy", "3": "no_answer"}.get(reason, "failed")
    results = [
        f
        for f in watcher.events("UserEvent", UserEvent="SurveyResult")
        if (f.headers.get("Channel") or "").startswith(prefix)
    ]
    if not results:
        return len(placed), "refused"
    value = results[0].headers["Result"]
    return len(placed), f"completed:{value}" if value in "123" else "no_answer"


def contacts(engine: Engine, make_call: Callable[..., CallRecord], count: int) -> None:
    CallWriter(engine).write(
        [make_call(i + 1, call_id=f"sim:1795490000.{i}") for i in range(count)]
    )


async def test_surveys_are_dialled_answered_and_counted_once(
    db_engine: Engine,
    db_url: str,
    sim: SimulatorServer,
    watcher: AmiTestClient,
    daemons: Callable[[Settings], Daemon],  # after the database: stopped before it is dropped
    tmp_path: Path,
    make_call: Callable[..., CallRecord],
) -> None:
    wanted = numbers(12)
    contacts(db_engine, make_call, len(wanted))
    queue_surveys(db_engine, wanted, sim_now(sim))
    daemon = daemons(survey_settings(sim, tmp_path, db_url, HOTLINE_SURVEYS__MAX_ATTEMPTS="1"))
    await daemon.start()

    def done() -> bool:
        return all(row["state"] in FINAL for row in store.surveys(db_engine))

    await wait_for("every survey final", done)
    rows = {row["number"]: row for row in store.surveys(db_engine)}
    attempts = store.attempts(db_engine)
    placed_ids = {
        f.headers["Uniqueid"]
        for f in watcher.events("Newchannel")
        if (f.headers.get("Channel") or "").startswith("IAX2/carrier/")
    }
    # The ChannelId the dialer chose is the Uniqueid of the call the PBX placed.
    assert {a["channel_id"] for a in attempts} == placed_ids
    assert len(attempts) == len(wanted)
    for number in wanted:
        calls, expected = witnessed(watcher, number)
        row = rows[number]
        assert calls == 1, number
        assert row["attempts"] == 1
        if expected.startswith("completed:"):
            rating = int(expected.split(":")[1])
            assert (row["state"], row["rating"]) == ("completed", rating), number
            assert row["follow_up"] is (rating == 3)
            contact = get_call(db_engine, row["call_id"])
            assert contact is not None and contact.survey_rating == rating
        else:
            assert (row["state"], row["rating"]) == (expected, None), number
    assert Counter(r["state"] for r in rows.values())["completed"] >= 1


@pytest.mark.postgres
async def test_two_daemons_on_one_postgresql_call_each_survey_exactly_once(
    db_url_pg: str,
    sim: SimulatorServer,
    watcher: AmiTestClient,
    daemons: Callable[[Settings], Daemon],  # after the database: stopped before it is dropped
    tmp_path: Path,
) -> None:
    db_url = db_url_pg
    engine = make_engine(db_url)
    try:
        first = daemons(
            survey_settings(sim, tmp_path, db_url, pbx="east", HOTLINE_SURVEYS__MAX_ATTEMPTS="1")
        )
        second = daemons(
            survey_settings(sim, tmp_path, db_url, pbx="west", HOTLINE_SURVEYS__MAX_ATTEMPTS="1")
        )
        await first.start()
        await second.start()
        for daemon in (first, second):
            assert daemon.surveys is not None
            await wait_for("dialer ready", daemon.surveys.reconciled.is_set)
        wanted = numbers(30, base=13900000100)
        queue_surveys(engine, wanted, sim_now(sim))

        await wait_for(
            "every survey final",
            lambda: all(row["state"] in FINAL for row in store.surveys(engine)),
            within=60,
        )
        attempts = store.attempts(engine)
        assert len(attempts) == len(wanted)
        assert len({a["survey_id"] for a in attempts}) == len(wanted)
        assert {a["owner"] for a in attempts} == {"east", "west"}
        for number in wanted:
            calls, _ = witnessed(watcher, number)
            assert calls == 1, f"{number} was called {calls} times"
    finally:
        engine.dispose()
