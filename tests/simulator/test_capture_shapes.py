"""The simulator's traffic against the real Asterisk 22 captures, event type by event type.

For each scenario the simulator runs the same call in ``local`` mode (Local channel pairs, the
captures' rig) and the set of event types and, for each, the header *names* in order must be the
capture's. Single-call captures are compared whole; for the multi-call captures (05, 06) both
sides are cut to the contact's frames. Differences fail, except this allow-list:

- ``OriginateResponse``: the captures' citizens were originated by the recording client; the
  simulator's citizens call in on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from telephony.ami.codec import Frame
from telephony.simulator import ChannelMode, OriginateRequest, SimConfig, Simulation
from tests.simulator.shapes import (
    CAPTURES,
    capture,
    compare,
    frames_of,
    linkedids,
    shapes,
    slice_contacts,
)

ALLOWED = frozenset({"OriginateResponse"})
# Shapes the captures cannot show: trunk-mode agents (PJSIP phones) hold and blind-transfer.
TRUNK_ONLY = frozenset({"Hold", "Unhold", "BlindTransfer", "CEL/BLINDTRANSFER"})

Script = Callable[[Simulation], None]


def _sim(script: Script, *, sliced: bool) -> list[Frame]:
    sim = Simulation(SimConfig(mode=ChannelMode.LOCAL, autonomous=False, seed=7))
    script(sim)
    frames = frames_of(b"".join(sim.run_for(900)))
    return slice_contacts(frames, set(linkedids(frames))) if sliced else frames


def _survey(*variables: tuple[str, str]) -> Script:
    def run(sim: Simulation) -> None:
        sim.originate(
            OriginateRequest(
                channel="Local/79160000051@citizens",
                context="survey",
                exten="s",
                priority="1",
                caller_id='"City Hotline" <1550>',
                timeout_ms=12000,
                variables=[("SURVEY_CAMPAIGN", "pothole-2024-q3"), *variables],
                action_id="main-70",
            )
        )

    return run


def _abandon(sim: Simulation) -> None:
    sim.setvar(None, "AGENT_MODE", "noanswer")  # as the capture's client did
    sim.place_call("1", patience=19)


@cache
def _burst_contact(choice: str) -> list[Frame]:
    frames = capture("06_burst_20.main.raw")
    linkedid = next(
        f.headers["Linkedid"]
        for f in frames
        if f.name == "UserEvent" and f.headers.get("Choice") == choice
    )
    return slice_contacts(frames, {linkedid})


@cache
def _survey_contacts(*indexes: int) -> list[Frame]:
    frames = capture("05_survey_callback.main.raw")
    ids = linkedids(frames)
    return slice_contacts(frames, {ids[i] for i in indexes})


SCENARIOS: dict[str, tuple[Script, Callable[[], list[Frame]], bool]] = {
    "answered": (lambda s: s.place_call("1"), lambda: capture("01_answered.main.raw"), False),
    "abandoned": (_abandon, lambda: capture("02_abandon_in_queue.main.raw"), False),
    "hangup_in_ivr": (
        lambda s: s.place_call("hangup", hangup_after=3),
        lambda: capture("03_hangup_in_ivr.main.raw"),
        False,
    ),
    "menu_timeout": (
        lambda s: s.place_call("timeout"),
        lambda: capture("04_menu_timeout_to_queue.main.raw"),
        False,
    ),
    "self_service": (lambda s: s.place_call("2"), lambda: _burst_contact("2"), True),
    "utilities_ringall": (lambda s: s.place_call("3"), lambda: _burst_contact("3"), True),
    "survey_digit": (_survey(("CITIZEN_DIGIT", "4")), lambda: _survey_contacts(0), True),
    "survey_no_digit": (_survey(), lambda: _survey_contacts(2), True),
    "survey_no_answer": (
        _survey(("CITIZEN_NOANSWER", "1")),
        lambda: _survey_contacts(3, 4),  # the callee and the OutgoingSpoolFailed channel
        True,
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_matches_its_capture(name: str) -> None:
    script, real, sliced = SCENARIOS[name]
    problems = compare(shapes(_sim(script, sliced=sliced)), shapes(real()), ALLOWED)
    assert problems == [], "\n".join(problems)


def test_async_agi_matches_its_capture() -> None:
    sim = Simulation(SimConfig(mode=ChannelMode.LOCAL, autonomous=False, seed=7))
    sim.originate(
        OriginateRequest(
            channel="Local/s@agi-async",
            application="Wait",
            data="600",
            caller_id='"Citizen AGI" <79160000007>',
            action_id="main-139",
        )
    )
    out = sim.run_for(1)
    channel = next(name for name in sim.pbx.channels if name.endswith(";2"))
    for command in (
        "ANSWER",
        "GET VARIABLE CALLERID(num)",
        'STREAM FILE hello-world ""',
        "GET DATA beep 6000 1",
    ):
        sim.agi(channel, command, "c")
        out += sim.run_for(0.5)
    sim.dtmf(channel.replace(";2", ";1"), "7")
    out += sim.run_for(0.5)
    for command in ("SET VARIABLE HOTLINE_AGI_CHOICE 7", 'VERBOSE "x" 1', "NOOP x", "HANGUP"):
        sim.agi(channel, command, "c")
        out += sim.run_for(0.5)
    out += sim.run_for(10)
    real = shapes(capture("07_async_agi.main.raw"))
    problems = compare(shapes(frames_of(b"".join(out))), real, ALLOWED)
    assert problems == [], "\n".join(problems)


def test_trunk_mode_invents_no_shapes() -> None:
    """Every event shape of busy trunk-mode traffic exists in some capture (or is trunk-only)."""
    known: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(CAPTURES.glob("*.raw")):
        for k, v in shapes(frames_of(path.read_bytes())).items():
            known.setdefault(k, set()).update(v)
    sim = Simulation(SimConfig(calls_per_hour=400, seed=11, p_hold=0.3, p_transfer=0.3))
    produced = shapes(frames_of(b"".join(sim.run_for(3 * 3600))))
    problems = []
    for k, variants in sorted(produced.items()):
        if k in TRUNK_ONLY:
            continue
        if k not in known:
            problems.append(f"{k}: no capture has this event")
            continue
        problems += [f"{k}: {' '.join(v)}" for v in sorted(variants - known[k])]
    assert problems == [], "\n".join(problems)
    assert set(produced) >= TRUNK_ONLY  # hold and transfer do happen
