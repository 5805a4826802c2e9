"""The simulated survey context with ``SURVEY_RATING_BY=ivr`` (dialplans/survey.conf) when hotline
does not drive the menu: a stale heartbeat skips AsyncAGI, a fresh heartbeat with nobody
answering the AGI session runs out the 5 s first lease (``T``) — both end in ``Read()``, which
rates the call as before. (hotline driving the menu: tests/surveys/test_survey_ivr.py.)"""

from __future__ import annotations

import pytest

from telephony.ami.codec import Frame
from telephony.simulator import OriginateRequest, SimConfig, Simulation
from tests.simulator.shapes import frames_of


def survey(sim: Simulation, *variables: tuple[str, str]) -> list[Frame]:
    sim.originate(
        OriginateRequest(
            channel="IAX2/carrier/13800000401",
            context="survey",
            exten="s",
            priority="1",
            caller_id='"12345" <12345>',
            variables=[("SURVEY_CAMPAIGN", "callback"), ("CITIZEN_DIGIT", "1"), *variables],
            action_id="s-1",
        )
    )
    return frames_of(b"".join(sim.run_for(120)))


def results(frames: list[Frame]) -> list[tuple[str, str]]:
    return [
        (f.headers["Result"], f.headers["ReadStatus"])
        for f in frames
        if f.name == "UserEvent" and f.headers.get("UserEvent") == "SurveyResult"
    ]


@pytest.mark.parametrize("by", ["dialplan", "ivr"])
def test_without_a_heartbeat_read_asks(by: str) -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=3))
    frames = survey(sim, ("SURVEY_RATING_BY", by))
    assert not [f for f in frames if f.name == "AsyncAGIStart"]
    assert results(frames) == [("1", "OK")]


def test_a_fresh_heartbeat_nobody_drives_falls_back_to_read_after_the_first_lease() -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=3, timestamps=True))
    sim.pbx.globals["HOTLINE_HEARTBEAT"] = str(int(sim.now))
    frames = survey(sim, ("SURVEY_RATING_BY", "ivr"))
    names = [f.name for f in frames]
    assert "AsyncAGIStart" in names and "AsyncAGIEnd" in names
    start = next(f for f in frames if f.name == "AsyncAGIStart")
    end = next(f for f in frames if f.name == "AsyncAGIEnd")
    assert float(end.headers["Timestamp"]) - float(start.headers["Timestamp"]) == pytest.approx(5)
    assert names.index("AsyncAGIEnd") < names.index("UserEvent")
    assert results(frames) == [("1", "OK")]
