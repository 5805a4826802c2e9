"""Survey ratings asked by hotline's menu engine, end to end over real AMI (issue 10, item 4).

The daemon (``[ivr] enabled``, ``[surveys] rating_by = "ivr"``) dials survey callbacks into the
simulator; each citizen answers, the simulated ``dialplans/survey.conf`` hands the call to
``AGI(agi:async,survey,zh)`` and the citizen walks the ``survey`` menu hotline drives over
AsyncAGI with a script (what the citizen does — the test's input). The expected rating of each
survey follows from its script and the issue's rules; an independent AMI client (the witness)
checks that the engine asked (AsyncAGI on the survey channel, ``ReadStatus: IVR``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage import get_call
from storage import surveys as store
from storage.writer import CallWriter
from telephony.app import Daemon
from telephony.calls.record import CallRecord
from telephony.config import Settings, load_settings
from telephony.simulator.menu_callers import HANGUP
from telephony.simulator.server import SimulatorServer
from telephony.simulator.survey_callers import script_survey
from telephony.surveys.ivr_check import check_survey_ivr
from tests.paths import ROOT
from tests.simulator.amiclient import AmiTestClient
from tests.surveys.conftest import queue_surveys, sim_now, survey_settings, wait_for

FINAL = {"completed", "no_answer", "busy", "failed", "refused", "expired", "cancelled"}

# number → (the citizen's script, expected state, rating, a comment recorded)
CASES: dict[str, tuple[list[str | None], str, int | None, bool]] = {
    "13800000201": (["1"], "completed", 1, False),
    "13800000202": (["2"], "completed", 2, False),
    "13800000203": (["3", None], "completed", 3, True),  # comment, then silence ends it
    "13800000204": (["7", "2"], "completed", 2, False),  # wrong key, asked once more
    "13800000205": (["9", "0"], "no_answer", None, False),  # wrong key twice: no answer
    "13800000206": ([None], "no_answer", None, False),  # no key: no answer
    "13800000207": (["3", HANGUP], "completed", 3, False),  # hangs up at the comment prompt
    "13800000208": ([HANGUP], "refused", None, False),  # hangs up during the question
}


@pytest.fixture
async def daemons() -> AsyncIterator[Callable[[Settings], Daemon]]:
    started: list[Daemon] = []
    yield lambda d: started.append(d) or d  # type: ignore[func-returns-value]
    for daemon in started:
        await daemon.stop()


def ivr_settings(sim: SimulatorServer, tmp_path: Path, db_url: str, **extra: str) -> Settings:
    return survey_settings(
        sim,
        tmp_path,
        db_url,
        HOTLINE_SURVEYS__MAX_ATTEMPTS="1",
        HOTLINE_SURVEYS__MAX_CONCURRENT="8",
        HOTLINE_IVR__MENUS=str(ROOT / "ivr_prompts"),
        HOTLINE_IVR__HEARTBEAT_INTERVAL_S="1",
        **extra,
    )


def contacts(engine: Engine, make_call: Callable[..., CallRecord], count: int) -> None:
    CallWriter(engine).write(
        [make_call(i + 1, call_id=f"sim:1795490000.{i}") for i in range(count)]
    )


async def test_the_menu_engine_asks_and_the_rating_lands_on_survey_and_contact(
    db_engine: Engine,
    db_url: str,
    sim: SimulatorServer,
    watcher: AmiTestClient,
    daemons: Callable[[Daemon], Daemon],  # after the database: stopped before it is dropped
    tmp_path: Path,
    make_call: Callable[..., CallRecord],
) -> None:
    wanted = list(CASES)
    for number, (script, *_) in CASES.items():
        sim.act(lambda s, n=number, k=script: script_survey(s, n, k))
    contacts(db_engine, make_call, len(wanted))
    settings = ivr_settings(
        sim, tmp_path, db_url, HOTLINE_IVR__ENABLED="true", HOTLINE_SURVEYS__RATING_BY="ivr"
    )
    daemon = daemons(Daemon(settings, pbx_clock=sim.sim_now))
    await daemon.start()
    await wait_for("heartbeat", lambda: "HOTLINE_HEARTBEAT" in sim.sim.pbx.globals)
    queue_surveys(db_engine, wanted, sim_now(sim))

    def done() -> bool:
        rows = store.surveys(db_engine)
        return len(rows) == len(wanted) and all(r["state"] in FINAL for r in rows)

    await wait_for("every survey final", done, within=60)
    rows = {row["number"]: row for row in store.surveys(db_engine)}
    attempts = {a["channel_id"]: a for a in store.attempts(db_engine)}
    agi_channels = {f.headers.get("Channel") for f in watcher.events("AsyncAGIStart")}
    for number, (_, state, rating, comment) in CASES.items():
        row = rows[number]
        assert (row["state"], row["rating"]) == (state, rating), number
        assert row["follow_up"] is (rating == 3), number
        contact = get_call(db_engine, row["call_id"])
        assert contact is not None
        assert contact.survey_rating == rating, number
        assert (row["comment"] is not None) is comment, number
        if comment:
            assert row["comment"].startswith("hotline-survey/") and row["comment"].endswith(".wav")
        # The menu engine asked: the survey channel ran AsyncAGI, and no Read() result came.
        channel = f"IAX2/carrier/{number}-"
        assert any((c or "").startswith(channel) for c in agi_channels), number
        results = [
            f
            for f in watcher.events("UserEvent", UserEvent="SurveyResult")
            if (f.headers.get("Channel") or "").startswith(channel)
        ]
        assert [f.headers["ReadStatus"] for f in results] == ["IVR"] * len(results), number
        assert len(results) == (0 if state == "refused" else 1), number
        if results:
            assert results[0].headers["Result"] == (str(rating) if rating else "none")
    assert len(attempts) == len(wanted)


async def test_without_the_daemons_heartbeat_the_dialplan_asks_with_read(
    db_engine: Engine,
    db_url: str,
    sim: SimulatorServer,
    watcher: AmiTestClient,
    daemons: Callable[[Daemon], Daemon],
    tmp_path: Path,
    make_call: Callable[..., CallRecord],
) -> None:
    wanted = ["13800000301", "13800000302"]
    contacts(db_engine, make_call, len(wanted))
    # rating_by = "ivr" but the IVR is off: no heartbeat, so survey.conf falls back to Read().
    settings = ivr_settings(
        sim,
        tmp_path,
        db_url,
        HOTLINE_SURVEYS__RATING_BY="ivr",
        HOTLINE_SURVEYS__VARIABLES='{"CITIZEN_DIGIT": "2"}',
    )
    daemon = daemons(Daemon(settings, pbx_clock=sim.sim_now))
    await daemon.start()
    queue_surveys(db_engine, wanted, sim_now(sim))

    def done() -> bool:
        return all(r["state"] in FINAL for r in store.surveys(db_engine))

    await wait_for("every survey final", done, within=60)
    for row in store.surveys(db_engine):
        assert (row["state"], row["rating"]) == ("completed", 2)
    assert watcher.events("AsyncAGIStart") == []
    statuses = [
        f.headers["ReadStatus"] for f in watcher.events("UserEvent", UserEvent="SurveyResult")
    ]
    assert statuses == ["OK", "OK"]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"HOTLINE_SURVEYS__RATING_BY": "dialplan"}, None),
        ({}, "needs [ivr] enabled = true"),
        ({"HOTLINE_IVR__ENABLED": "true", "HOTLINE_IVR__MENUS": "MENUS"}, None),
        (
            {"HOTLINE_IVR__ENABLED": "true", "HOTLINE_IVR__MENUS": "MENUS/menus.toml"},
            "needs a menu 'survey' in",
        ),
    ],
)
def test_rating_by_ivr_needs_the_ivr_and_its_survey_menu(
    env: dict[str, str], problem: str | None
) -> None:
    menus = str(ROOT / "ivr_prompts")
    settings = load_settings(
        None,
        env={
            "HOTLINE_SURVEYS__ENABLED": "true",
            "HOTLINE_SURVEYS__RATING_BY": "ivr",
            **{k: v.replace("MENUS", menus) for k, v in env.items()},
        },
    )
    problems = check_survey_ivr(settings)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]
        assert problems[0].startswith("config [surveys].rating_by:")
