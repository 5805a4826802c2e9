"""Tracker scenarios beyond the shared captures: trunk channels, Timestamp headers, transfers,
hold, no CEL, logs that start mid-call, duplicates, PBX restarts.

Each test shows the AMI conversation (only the headers that matter, as Asterisk spells them)
next to the record it must give. Times come from `Timestamp:` (epoch seconds), as with
`timestampevents=yes` or a hotline journal.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from telephony.ami.codec import AmiCodec
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord, CloseReason, HangupBy, Kind, Outcome
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline

T = 1_795_500_000.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T + seconds, UTC)


def run(ami: str, *, finish: bool = True, config: TrackerConfig | None = None) -> list[CallRecord]:
    """Feed AMI text (frames separated by blank lines; `@12.5` stands for a Timestamp)."""
    frames = []
    for block in ami.strip().split("\n\n"):
        lines = []
        for line in block.strip().splitlines():
            line = line.strip()
            if line.startswith("@"):
                line = f"Timestamp: {T + float(line[1:]):.6f}"
            lines.append(line)
        frames.append("\r\n".join(lines))
    data = ("\r\n\r\n".join(frames) + "\r\n\r\n").encode()
    records: list[CallRecord] = []
    pipeline = Pipeline(
        CallTracker(config or TrackerConfig(pbx="pbxA")), StreamClock("UTC"), records.extend
    )
    codec = AmiCodec()
    codec.receive_data(data)
    codec.receive_data(b"")
    while (frame := codec.next_frame()) is not None:
        pipeline.feed(frame)
    if finish:
        pipeline.finish()
    return records


TRUNK_IN = """
Event: Newchannel
@0
Channel: PJSIP/carrier-0000001a
ChannelState: 4
CallerIDNum: 13912345678
Context: from-pstn
Exten: 12345
Uniqueid: 1795500000.50
Linkedid: 1795500000.50

Event: Newstate
@0.2
Channel: PJSIP/carrier-0000001a
ChannelState: 6
Uniqueid: 1795500000.50
Linkedid: 1795500000.50

Event: UserEvent
@6
UserEvent: HotlineIvr
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Menu: main
Choice: 3

Event: UserEvent
@9
UserEvent: HotlineIvr
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Menu: water
Choice: 1

Event: QueueCallerJoin
@9.5
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Queue: citizen-water
Position: 1
Count: 1

Event: Newchannel
@9.6
Channel: PJSIP/8001-0000001b
ChannelState: 0
CallerIDNum: 8001
CallerIDName: Wang Fang
Context: from-internal
Exten: 8001
Uniqueid: 1795500009.51
Linkedid: 1795500000.50

Event: AgentCalled
@9.6
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
DestChannel: PJSIP/8001-0000001b
DestUniqueid: 1795500009.51
Queue: citizen-water
Interface: PJSIP/8001
MemberName: Wang Fang

Event: Newstate
@21
Channel: PJSIP/8001-0000001b
ChannelState: 6
Uniqueid: 1795500009.51
Linkedid: 1795500000.50

Event: QueueCallerLeave
@21
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Queue: citizen-water

Event: AgentConnect
@21
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
DestChannel: PJSIP/8001-0000001b
DestUniqueid: 1795500009.51
Queue: citizen-water
Interface: PJSIP/8001
MemberName: Wang Fang
HoldTime: 12
RingTime: 11

Event: BridgeEnter
@21
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
BridgeUniqueid: b-1

Event: BridgeEnter
@21
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
BridgeUniqueid: b-1

Event: Hold
@40
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50

Event: Unhold
@55
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50

Event: UserEvent
@80
UserEvent: HotlineDisposition
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Disposition: work_order
WorkOrderId: WO-2026-000123
"""

CALLER_HANGS_UP = """
Event: HangupRequest
@91
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: AgentComplete
@91
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
DestChannel: PJSIP/8001-0000001b
DestUniqueid: 1795500009.51
Queue: citizen-water
MemberName: Wang Fang
HoldTime: 12
TalkTime: 70
Reason: caller

Event: Hangup
@91
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@91.1
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Cause: 16
"""


def test_trunk_call_without_cel_is_finished_by_the_last_hangup() -> None:
    """PJSIP trunk, two menu levels, a queue named otherwise, hold, a work order; no CEL."""
    (record,) = run(TRUNK_IN + "\n" + CALLER_HANGS_UP, finish=False)
    assert record.call_id == "pbxA:1795500000.50"
    assert record.kind is Kind.CITIZEN
    assert record.caller == "13912345678"
    assert record.dialed == "12345"
    assert record.started_at == at(0)
    assert record.ivr_path == ("3", "1")
    assert record.queue == "citizen-water"
    assert record.queued_at == at(9.5)
    assert record.answered_at == at(21)
    assert record.agent == "Wang Fang"
    assert record.wait_s == 12
    assert record.talk_s == 70
    assert record.ended_at == at(91.1)
    assert record.outcome is Outcome.ANSWERED
    assert record.hangup_by is HangupBy.CALLER
    assert record.hangup_cause == 16
    assert record.hold_s == pytest.approx(15)
    assert record.disposition is not None
    assert record.disposition.value == "work_order"
    assert record.work_order_id == "WO-2026-000123"
    assert record.close_reason is CloseReason.HANGUP


@pytest.mark.parametrize(
    "tech", ["IAX2/carrier-1234", "DAHDI/i1/13912345678-5", "SIP/carrier-0000001a"]
)
def test_other_channel_technologies_give_the_same_record(tech: str) -> None:
    ami = (TRUNK_IN + "\n" + CALLER_HANGS_UP).replace("PJSIP/carrier-0000001a", tech)
    (record,) = run(ami, finish=False)
    (reference,) = run(TRUNK_IN + "\n" + CALLER_HANGS_UP, finish=False)
    assert record == reference


def test_agent_hangs_up() -> None:
    agent_ends = CALLER_HANGS_UP.replace(
        "Event: HangupRequest\n@91\nChannel: PJSIP/carrier-0000001a\nUniqueid: 1795500000.50",
        "Event: HangupRequest\n@91\nChannel: PJSIP/8001-0000001b\nUniqueid: 1795500009.51",
    ).replace("Reason: caller", "Reason: agent")
    (record,) = run(TRUNK_IN + "\n" + agent_ends, finish=False)
    assert record.hangup_by is HangupBy.AGENT
    assert record.outcome is Outcome.ANSWERED


BLIND_TRANSFER = """
Event: BlindTransfer
@60
Result: Success
TransfererChannel: PJSIP/8001-0000001b
TransfererUniqueid: 1795500009.51
TransfererLinkedid: 1795500000.50
TransfereeChannel: PJSIP/carrier-0000001a
TransfereeUniqueid: 1795500000.50
TransfereeLinkedid: 1795500000.50
BridgeUniqueid: b-1
Context: from-internal
Extension: 8002

Event: BridgeLeave
@60
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
BridgeUniqueid: b-1

Event: HangupRequest
@60.1
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@60.1
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Cause: 16

Event: Newchannel
@60.2
Channel: PJSIP/8002-0000001c
ChannelState: 0
CallerIDNum: 8002
CallerIDName: Li Lei
Context: from-internal
Exten: 8002
Uniqueid: 1795500060.52
Linkedid: 1795500000.50

Event: Newstate
@66
Channel: PJSIP/8002-0000001c
ChannelState: 6
Uniqueid: 1795500060.52
Linkedid: 1795500000.50

Event: BridgeEnter
@66
Channel: PJSIP/8002-0000001c
Uniqueid: 1795500060.52
Linkedid: 1795500000.50
BridgeUniqueid: b-1

Event: HangupRequest
@120
Channel: PJSIP/8002-0000001c
Uniqueid: 1795500060.52
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@120
Channel: PJSIP/8002-0000001c
Uniqueid: 1795500060.52
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@120.1
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16
"""


def test_blind_transfer_keeps_one_record_and_the_last_agent() -> None:
    (record,) = run(TRUNK_IN.split("Event: Hold")[0] + "\n" + BLIND_TRANSFER, finish=False)
    assert record.transfers == 1
    # Asterisk gives the dialled channel the caller's caller id; the party is its device.
    assert record.agent == "PJSIP/8002"
    # The first agent leaving after the transfer ends nothing; the second agent hung up.
    assert record.hangup_by is HangupBy.AGENT
    assert record.outcome is Outcome.ANSWERED
    assert record.answered_at == at(21)
    assert record.ended_at == at(120.1)
    assert record.talk_s == pytest.approx(120.1 - 21)  # both agents, from the clock


def test_attended_transfer_merges_two_linkedids_into_one_contact() -> None:
    """The agent calls a colleague (a second Linkedid), then joins the citizen to them."""
    consult = """
Event: Newchannel
@70
Channel: PJSIP/8001-0000001d
ChannelState: 6
CallerIDNum: 8001
CallerIDName: Wang Fang
Context: from-internal
Exten: 8003
Uniqueid: 1795500070.60
Linkedid: 1795500070.60

Event: Newchannel
@70.1
Channel: PJSIP/8003-0000001e
ChannelState: 0
CallerIDNum: 8003
CallerIDName: Zhao Min
Context: from-internal
Exten: 8003
Uniqueid: 1795500070.61
Linkedid: 1795500070.60

Event: Newstate
@75
Channel: PJSIP/8003-0000001e
ChannelState: 6
Uniqueid: 1795500070.61
Linkedid: 1795500070.60

Event: AttendedTransfer
@90
Result: Success
OrigTransfererChannel: PJSIP/8001-0000001b
OrigTransfererUniqueid: 1795500009.51
OrigTransfererLinkedid: 1795500000.50
OrigBridgeUniqueid: b-1
SecondTransfererChannel: PJSIP/8001-0000001d
SecondTransfererUniqueid: 1795500070.60
SecondTransfererLinkedid: 1795500070.60
TransferTargetChannel: PJSIP/8003-0000001e
TransferTargetUniqueid: 1795500070.61
TransferTargetLinkedid: 1795500070.60
TransfereeChannel: PJSIP/carrier-0000001a
TransfereeUniqueid: 1795500000.50
DestType: Bridge
DestBridgeUniqueid: b-1

Event: Hangup
@90.1
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@90.1
Channel: PJSIP/8001-0000001d
Uniqueid: 1795500070.60
Linkedid: 1795500070.60
Cause: 16

Event: BridgeEnter
@90.2
Channel: PJSIP/8003-0000001e
Uniqueid: 1795500070.61
Linkedid: 1795500000.50
BridgeUniqueid: b-1

Event: HangupRequest
@150
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@150
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@150.1
Channel: PJSIP/8003-0000001e
Uniqueid: 1795500070.61
Linkedid: 1795500000.50
Cause: 16
"""
    records = run(TRUNK_IN.split("Event: Hold")[0] + "\n" + consult, finish=False)
    assert [r.call_id for r in records] == ["pbxA:1795500000.50"]
    (record,) = records
    assert record.transfers == 1
    assert record.agent == "PJSIP/8003"
    assert record.hangup_by is HangupBy.CALLER
    assert record.ended_at == at(150.1)


def test_abandon_in_queue_and_unanswered_ring_is_not_the_agent_hanging_up() -> None:
    ami = (
        TRUNK_IN.split("Event: Newstate\n@21")[0]
        + """
Event: HangupRequest
@30
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Cause: 0

Event: Hangup
@30
Channel: PJSIP/8001-0000001b
Uniqueid: 1795500009.51
Linkedid: 1795500000.50
Cause: 0

Event: HangupRequest
@31
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: QueueCallerAbandon
@31
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Queue: citizen-water
Position: 1
OriginalPosition: 1
HoldTime: 21

Event: QueueCallerLeave
@31
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Queue: citizen-water

Event: Hangup
@31
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16
"""
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.ABANDONED_QUEUE
    assert record.hangup_by is HangupBy.CALLER
    assert record.wait_s == 21
    assert record.answered_at is None
    assert record.agent is None
    assert record.talk_s is None


def test_queue_timeout_is_no_agent() -> None:
    ami = (
        TRUNK_IN.split("Event: Newchannel\n@9.6")[0]
        + """
Event: QueueCallerLeave
@69.5
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Queue: citizen-water

Event: SoftHangupRequest
@75
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@75
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16
"""
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.NO_AGENT
    assert record.wait_s == pytest.approx(60)
    assert record.hangup_by is HangupBy.SYSTEM


def test_self_service_and_failed() -> None:
    head = TRUNK_IN.split("Event: QueueCallerJoin")[0]
    pbx_ends = (
        head
        + """
Event: SoftHangupRequest
@20
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16

Event: Hangup
@20
Channel: PJSIP/carrier-0000001a
Uniqueid: 1795500000.50
Linkedid: 1795500000.50
Cause: 16
"""
    )
    (record,) = run(pbx_ends, finish=False)
    assert record.outcome is Outcome.SELF_SERVICE
    congested = """
Event: Newchannel
@0
Channel: PJSIP/carrier-00000020
ChannelState: 4
CallerIDNum: 13912345678
Exten: 12345
Uniqueid: 1795500000.70
Linkedid: 1795500000.70

Event: Hangup
@0.5
Channel: PJSIP/carrier-00000020
Uniqueid: 1795500000.70
Linkedid: 1795500000.70
Cause: 34
"""
    (failed,) = run(congested, finish=False)
    assert failed.outcome is Outcome.FAILED
    assert failed.hangup_cause == 34


def test_log_starting_mid_call_and_duplicates_never_crash() -> None:
    """The log starts after the answer; a Hangup for an unknown channel; frames twice."""
    tail = CALLER_HANGS_UP
    stray = """
Event: Hangup
@200
Channel: PJSIP/ghost-00000099
Uniqueid: 1795400000.9
Linkedid: 1795400000.9
Cause: 16
"""
    records = run(tail + "\n" + tail + "\n" + stray, finish=False)
    by_id = {r.call_id: r for r in records}
    assert set(by_id) == {"pbxA:1795500000.50", "pbxA:1795400000.9"}
    call = by_id["pbxA:1795500000.50"]
    assert call.outcome is Outcome.ANSWERED  # the AgentComplete proves an agent talked
    assert call.talk_s == 70
    # Coherent times from what the AgentComplete says: answered 70 s, joined 12 s before that.
    assert call.answered_at == at(21)
    assert call.queued_at == at(9)
    assert call.started_at == at(9)


def test_cel_on_but_linkedid_end_missing_still_closes_after_linger() -> None:
    cel = "Event: CEL\n@0\nEventName: CHAN_START\nEventTime: 2026-11-24 03:00:00\n"
    later = """
Event: Newchannel
@500
Channel: PJSIP/carrier-00000030
ChannelState: 4
Uniqueid: 1795500500.80
Linkedid: 1795500500.80
"""
    records = run(cel + "\n" + TRUNK_IN + "\n" + CALLER_HANGS_UP + "\n" + later, finish=False)
    assert [r.call_id for r in records] == ["pbxA:1795500000.50"]
    assert records[0].ended_at == at(91.1)


def test_pbx_restart_closes_open_calls_and_reused_linkedids_stay_unique() -> None:
    shutdown = """
Event: Shutdown
@100
Shutdown: Cleanly
Restart: True
"""
    booted = """
Event: FullyBooted
@103
Uptime: 1
LastReload: 1
Status: Fully Booted
"""
    records = run(TRUNK_IN + "\n" + shutdown + "\n" + booted + "\n" + TRUNK_IN, finish=True)
    first, second = records
    assert first.call_id == "pbxA:1795500000.50"
    assert first.close_reason is CloseReason.PBX_RESTART
    assert first.hangup_by is HangupBy.SYSTEM
    assert first.ended_at == at(100)
    # The same Linkedid after the restart is another call.
    assert second.call_id == "pbxA:1795500000.50#2"
    assert second.close_reason is CloseReason.END_OF_LOG


def test_survey_call_by_variable_and_rating() -> None:
    ami = """
Event: Newchannel
@0
Channel: PJSIP/carrier-00000040
ChannelState: 0
CallerIDNum: 12345
Context: hotline-survey-out
Exten: 13912345678
Uniqueid: 1795500000.90
Linkedid: 1795500000.90

Event: VarSet
@0
Channel: PJSIP/carrier-00000040
Uniqueid: 1795500000.90
Linkedid: 1795500000.90
Variable: HOTLINE_SURVEY
Value: pbxA:1795400000.1

Event: Newstate
@8
Channel: PJSIP/carrier-00000040
ChannelState: 6
Uniqueid: 1795500000.90
Linkedid: 1795500000.90

Event: UserEvent
@20
UserEvent: HotlineSurvey
Channel: PJSIP/carrier-00000040
Uniqueid: 1795500000.90
Linkedid: 1795500000.90
Rating: 2

Event: Hangup
@22
Channel: PJSIP/carrier-00000040
Uniqueid: 1795500000.90
Linkedid: 1795500000.90
Cause: 16
"""
    (record,) = run(ami, finish=False)
    assert record.kind is Kind.SURVEY
    assert record.direction.value == "outbound"
    assert record.dialed == "13912345678"
    assert record.survey_rating == 2
    assert record.outcome is Outcome.SURVEY_COMPLETED
    busy = ami.replace("ChannelState: 6", "ChannelState: 5").replace("Cause: 16", "Cause: 17")
    busy = busy.replace("Rating: 2", "Rating: x")
    (record,) = run(busy, finish=False)
    assert record.outcome is Outcome.SURVEY_BUSY
    assert record.hangup_by is None


def test_unknown_and_malformed_values_do_not_crash() -> None:
    ami = """
Event: SomethingNew
@1
Foo: bar

Event: Hangup
@2
Channel: PJSIP/x-1
Uniqueid: 1.1
Linkedid: 1.1
Cause: not-a-number

Event: AgentConnect
@3
HoldTime: soon
"""
    records = run(ami)
    assert [r.hangup_cause for r in records] == [None]


def test_memory_is_bounded_by_calls_in_progress() -> None:
    tracker = CallTracker(TrackerConfig(pbx="p", recent_closed=100))
    pipeline = Pipeline(tracker, StreamClock("UTC"), lambda records: None)
    codec = AmiCodec()
    for n in range(2000):
        uid = f"1795500000.{n}"
        codec.receive_data(
            (
                f"Event: Newchannel\r\nTimestamp: {T + n}\r\nChannel: PJSIP/c-{n:08x}\r\n"
                f"ChannelState: 4\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\n\r\n"
                f"Event: BridgeEnter\r\nTimestamp: {T + n}\r\nChannel: PJSIP/c-{n:08x}\r\n"
                f"Uniqueid: {uid}\r\nLinkedid: {uid}\r\nBridgeUniqueid: br-{n}\r\n\r\n"
                f"Event: Hangup\r\nTimestamp: {T + n + 0.5}\r\nChannel: PJSIP/c-{n:08x}\r\n"
                f"Uniqueid: {uid}\r\nLinkedid: {uid}\r\nCause: 16\r\n\r\n"
            ).encode()
        )
        while (frame := codec.next_frame()) is not None:
            pipeline.feed(frame)
    assert tracker.stats.records == 2000
    assert not tracker.contacts
    assert len(tracker._by_uid) == 0
    assert len(tracker._by_name) == 0
    assert not tracker._bridges
    assert not tracker._bridge_of
    assert len(tracker._recent) <= 100
