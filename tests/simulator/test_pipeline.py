"""The simulator's traffic replays through the real pipeline into the call records we scripted.

Scripted calls (``place_call``) and survey originates are fed frame by frame through
``telephony.pipeline.Pipeline`` and ``CallTracker``, as ``hotline replay`` would: the records must
be the ones scripted (trunk and Local-pair channels alike, transfers, surveys, resync).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from telephony.ami.codec import AmiCodec
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from telephony.simulator import (
    ChannelMode,
    OriginateRequest,
    SimConfig,
    Simulation,
    SimulatorServer,
)
from telephony.simulator.model import FLAT_PROFILE
from tests.simulator.amiclient import AmiTestClient

MODES = list(ChannelMode)


def records_of(data: bytes) -> list[CallRecord]:
    """Replay an AMI byte stream through the pipeline; the finished records."""
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="sim")), StreamClock("UTC"), records.extend)
    codec = AmiCodec()
    codec.receive_data(b"Asterisk Call Manager/11.0.0\r\n" + data)
    codec.receive_data(b"")
    for frame in codec:
        pipeline.feed(frame)
    pipeline.finish()
    return records


def _one(mode: ChannelMode, script: dict[str, Any]) -> dict[str, Any]:
    sim = Simulation(SimConfig(autonomous=False, seed=1, mode=mode))
    choice = script.pop("choice")
    call = sim.place_call(choice, **script)
    records = records_of(b"".join(sim.run_for(1800)))
    assert len(records) == 1
    record = records[0]
    assert record.call_id == f"sim:{call.linkedid}"
    assert record.close_reason.value == "linkedid_end"
    exported: dict[str, Any] = record.export()
    return exported


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "answered, agent hangs up": (
        {"choice": "1"},
        {
            "outcome": "answered",
            "ivr_path": ["1"],
            "queue": "hotline",
            "agent": "Agent 8001 王芳",
            "hangup_by": "agent",
            "wait_s": 2,
            "talk_s": 7,
            "hangup_cause": 16,
            "kind": "citizen",
            "direction": "inbound",
        },
    ),
    "answered, caller hangs up": (
        {"choice": "1", "end_by": "caller"},
        {"outcome": "answered", "hangup_by": "caller"},
    ),
    "abandoned in the queue": (
        {"choice": "1", "patience": 19, "agents_answer": False},
        {
            "outcome": "abandoned_queue",
            "queue": "hotline",
            "agent": None,
            "wait_s": 19,
            "hangup_by": "caller",
            "talk_s": None,
        },
    ),
    "hang up in the menu": (
        {"choice": "hangup", "hangup_after": 3},
        {"outcome": "abandoned_ivr", "ivr_path": [], "queue": None, "hangup_by": "caller"},
    ),
    "self-service": (
        {"choice": "2"},
        {"outcome": "self_service", "ivr_path": ["2"], "queue": None, "hangup_by": "system"},
    ),
    "utilities queue (ringall)": (
        {"choice": "3"},
        {
            "outcome": "answered",
            "ivr_path": ["3"],
            "queue": "hotline-utilities",
            "agent": "Agent 8101 郑华",
        },
    ),
    "menu timeout": (
        {"choice": "timeout"},
        {"outcome": "answered", "ivr_path": ["timeout"], "queue": "hotline"},
    ),
    "invalid digit, then 1": (
        {"choice": "invalid", "retry_choice": "1"},
        {"outcome": "answered", "ivr_path": ["1"]},
    ),
    "ring no answer, next agent": (
        {"choice": "1", "ring_no_answer": 1},
        {"outcome": "answered", "agent": "Agent 8002 李娜", "wait_s": 20},
    ),
    "queue timeout": (
        {"choice": "1", "agents_answer": False},
        {"outcome": "no_agent", "queue": "hotline", "agent": None, "hangup_by": "system"},
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(CASES))
def test_scripted_call_gives_the_scripted_record(mode: ChannelMode, case: str) -> None:
    script, expected = CASES[case]
    record = _one(mode, dict(script))
    assert {k: record[k] for k in expected} == expected
    if expected.get("queue") == "hotline" and expected["outcome"] == "answered":
        assert record["recording"].endswith(".wav")


def test_hold_keeps_the_talk_time() -> None:
    record = _one(ChannelMode.TRUNK, {"choice": "1", "talk": 60, "hold_at": 10, "hold": 20})
    assert record["outcome"] == "answered"
    assert record["talk_s"] == 60


def test_blind_transfer_talk_time_counts_both_agents() -> None:
    record = _one(ChannelMode.TRUNK, {"choice": "1", "talk": 60, "transfer_at": 30})
    assert record["outcome"] == "answered"
    assert record["agent"] == "Agent 8002 李娜"  # the member name QueueMemberStatus gave
    assert record["talk_s"] == pytest.approx(62, abs=2)  # 30 s + ring + 30 s


def test_blind_transfer_names_the_second_agent() -> None:
    record = _one(ChannelMode.TRUNK, {"choice": "1", "talk": 60, "transfer_at": 30})
    assert record["agent"] == "Agent 8002 李娜"  # device PJSIP/8002, a queue member
    assert record["hangup_by"] == "agent"


def test_blind_transfer_agent_is_not_the_citizen() -> None:
    script = {"choice": "1", "talk": 60, "transfer_at": 30, "caller_name": "Wang Fang"}
    record = _one(ChannelMode.TRUNK, script)
    assert record["agent"] != "Wang Fang"


def _survey(mode: ChannelMode, **variables: str) -> dict[str, Any]:
    sim = Simulation(SimConfig(autonomous=False, seed=1, mode=mode))
    channel = (
        "Local/79160000051@citizens" if mode is ChannelMode.LOCAL else ("PJSIP/79160000051@carrier")
    )
    sim.originate(
        OriginateRequest(
            channel=channel,
            context="survey",
            exten="s",
            caller_id='"City Hotline" <1550>',
            timeout_ms=12000,
            variables=[("SURVEY_CAMPAIGN", "q3"), *variables.items()],
            action_id="s-1",
        )
    )
    records = records_of(b"".join(sim.run_for(300)))
    assert len(records) == 1
    exported: dict[str, Any] = records[0].export()
    return exported


SURVEYS = [
    ({"CITIZEN_DIGIT": "1"}, {"kind": "survey", "outcome": "survey_completed", "survey_rating": 1}),
    ({"CITIZEN_DIGIT": "3"}, {"kind": "survey", "outcome": "survey_completed", "survey_rating": 3}),
    (
        {"CITIZEN_DIGIT": "4"},
        {"kind": "survey", "outcome": "survey_refused", "survey_rating": None},
    ),
    ({"CITIZEN_DIGIT": ""}, {"kind": "survey", "outcome": "survey_refused"}),
    ({"CITIZEN_NOANSWER": "1"}, {"kind": "survey", "outcome": "survey_no_answer"}),
    ({"CITIZEN_BUSY": "1"}, {"kind": "survey", "outcome": "survey_busy"}),
]


@pytest.mark.parametrize(
    ("mode", "variables", "expected"),
    [
        pytest.param(
            mode,
            variables,
            expected,
            id=f"{mode.value}-{expected['outcome']}-{'-'.join(f'{k}={v}' for k, v in variables.items())}",  # noqa: E501
        )
        for mode in MODES
        for variables, expected in SURVEYS
    ],
)
def test_survey_callback_records(
    mode: ChannelMode, variables: dict[str, str], expected: dict[str, Any]
) -> None:
    record = _survey(mode, **variables)
    assert {k: record[k] for k in expected} == expected
    assert record["direction"] == "outbound"


@pytest.mark.parametrize("mode", MODES)
def test_autonomous_traffic_gives_one_record_per_call(mode: ChannelMode) -> None:
    config = SimConfig(
        mode=mode,
        calls_per_hour=200,
        agents=5,
        seed=21,
        p_hold=0.2,
        p_transfer=0.1,
        profile=FLAT_PROFILE,
    )
    sim = Simulation(config)
    data = b"".join(sim.run_for(2 * 3600))
    for proc in sim.flows.processes:
        if proc.name == "arrivals":
            proc.kill()
    data += b"".join(sim.run_for(3600))  # let the last calls finish
    calls = data.count(b"AppData: City hotline call from")
    records = records_of(data)
    assert calls > 300
    assert len(records) == calls
    assert len({r.call_id for r in records}) == calls
    assert all(r.close_reason.value == "linkedid_end" for r in records)
    outcomes = Counter(r.outcome.value for r in records)
    assert set(outcomes) <= {
        "answered",
        "abandoned_queue",
        "abandoned_ivr",
        "self_service",
        "no_agent",
    }
    assert outcomes["answered"] > 0
    assert outcomes["self_service"] > 0


@pytest.mark.parametrize("mode", MODES)
def test_ami_hangups_reach_the_right_party(mode: ChannelMode) -> None:
    """AMI ``Hangup`` of the citizen, of a ringing agent and of a talking agent."""
    sim = Simulation(SimConfig(autonomous=False, seed=1, mode=mode, agents=2))
    caller_gone = sim.place_call("1", talk=100, agents_answer=False)
    data = b"".join(sim.run_for(12))  # in the queue, first agent ringing
    citizen = next(c for c in sim.pbx.live_channels() if c.context == "hotline-in"
                   and not c.name.endswith(";1"))  # fmt: skip
    assert sim.hangup(citizen.name)
    data += b"".join(sim.run_for(30))

    rejected = sim.place_call("1", talk=100, ring=6)
    data += b"".join(sim.run_for(8))  # ringing agent 8002 (rrmemory moved on), 6 s to answer
    ringing = next(c for c in sim.pbx.live_channels() if "8002" in c.name)
    assert sim.hangup(ringing.name)  # the agent rejects: the queue tries the next one
    data += b"".join(sim.run_for(40))
    talking = next(c for c in sim.pbx.live_channels() if c.context == "agents"
                   and c.state == 6 and not c.name.endswith(";2"))  # fmt: skip
    assert sim.hangup(talking.name)
    data += b"".join(sim.run_for(60))
    assert not sim.pbx.channels

    records = {r.call_id: r.export() for r in records_of(data)}
    first = records[f"sim:{caller_gone.linkedid}"]
    assert (first["outcome"], first["hangup_by"]) == ("abandoned_queue", "caller")
    second = records[f"sim:{rejected.linkedid}"]
    assert (second["outcome"], second["hangup_by"]) == ("answered", "agent")
    assert second["agent"] == "Agent 8001 王芳"


async def _resynced_records() -> dict[str, dict[str, Any]]:
    """A second client logs in mid-call, resyncs from the lists and follows the calls."""
    srv = SimulatorServer(SimConfig(autonomous=False, seed=2), speed=50)
    await srv.start()
    try:
        first = await AmiTestClient.connect(srv.address)
        await first.login()
        srv.place_call(choice="1", talk=20)
        srv.place_call(choice="1", talk=20, agents_answer=False, patience=30)
        await first.wait_for(lambda f: f.name == "AgentConnect", timeout=10)
        late = await AmiTestClient.connect(srv.address)
        await late.login()
        await late.list_action("CoreShowChannels", "CoreShowChannelsComplete")
        await late.list_action("QueueStatus", "QueueStatusComplete")
        await late.wait_for(
            lambda f: len(late.events("CEL", EventName="LINKEDID_END")) == 2, timeout=20
        )
        await first.close()
        await late.close()
    finally:
        await srv.stop()
    records = records_of(bytes(late.raw).split(b"\r\n", 1)[1])
    return {r.outcome.value: r.export() for r in records}


async def test_a_client_that_logs_in_mid_call_resyncs() -> None:
    records = await _resynced_records()
    assert set(records) == {"answered", "abandoned_queue"}
    assert records["answered"]["hangup_by"] == "agent"
    assert records["answered"]["talk_s"] == 20
    assert records["abandoned_queue"]["hangup_by"] == "caller"


async def test_resynced_abandon_keeps_the_hold_time() -> None:
    records = await _resynced_records()
    assert records["abandoned_queue"]["wait_s"] == 30
