"""The rules found on real trunk traffic (issue 6), each as a small AMI conversation.

Every scenario is Asterisk behaviour, written with other channel techs, queue and context names
than the trunk capture, so a rule keyed on that capture's names would fail here.
"""

from __future__ import annotations

import pytest

from telephony.ami.codec import AmiCodec
from telephony.amilog.replay import replay
from telephony.calls.clock import StreamClock
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    Disposition,
    HangupBy,
    Kind,
    Outcome,
    call_id_for,
    split_call_id,
)
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from tests.calls.test_tracker_scenarios import run
from tests.paths import CAPTURES

CEL_ON = """
Event: CEL
@0
EventName: CHAN_START
EventTime: 2026-11-24 03:00:00
"""


def _cel(name: str, at: float, uid: str, linkedid: str) -> str:
    return f"""
Event: CEL
@{at}
EventName: {name}
UniqueID: {uid}
LinkedID: {linkedid}
"""


def _chan(event: str, at: float, channel: str, uid: str, linkedid: str, *extra: str) -> str:
    lines = [f"Event: {event}", f"@{at}", f"Channel: {channel}", f"Uniqueid: {uid}"]
    lines += [f"Linkedid: {linkedid}", *extra]
    return "\n" + "\n".join(lines) + "\n"


CALLER = "SIP/pstn-00000a01"
CID = "1795600000.10"


def _caller_in_queue(queue: str = "water-desk") -> str:
    return (
        _chan(
            "Newchannel", 0, CALLER, CID, CID, "ChannelState: 4", "CallerIDNum: 13800000001",
            "Context: from-carrier", "Exten: 12345",
        )
        + _chan("Newstate", 0.5, CALLER, CID, CID, "ChannelState: 6")
        + _chan("QueueCallerJoin", 5, CALLER, CID, CID, f"Queue: {queue}", "Position: 1")
    )  # fmt: skip


# --- 1. a queue timeout is not an abandonment -------------------------------------------------


def test_queue_timeout_reported_as_abandon_is_no_agent_hung_up_by_the_system() -> None:
    """Asterisk sends QueueCallerAbandon when the queue's own limit expires, sets
    QUEUESTATUS=TIMEOUT, and the dialplan goes on (overflow prompt, then Hangup())."""
    ami = (
        CEL_ON
        + _caller_in_queue()
        + _chan("QueueCallerAbandon", 35, CALLER, CID, CID, "Queue: water-desk", "HoldTime: 30")
        + _chan("QueueCallerLeave", 35, CALLER, CID, CID, "Queue: water-desk")
        + _chan("VarSet", 35, CALLER, CID, CID, "Variable: QUEUESTATUS", "Value: TIMEOUT")
        + _chan("SoftHangupRequest", 39, CALLER, CID, CID, "Cause: 16")
        + _chan("HangupRequest", 39, CALLER, CID, CID, "Cause: 16")
        + _cel("LINKEDID_END", 39, CID, CID)
        + _chan("Hangup", 39, CALLER, CID, CID, "Cause: 16")
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.NO_AGENT
    assert record.hangup_by is HangupBy.SYSTEM
    assert record.wait_s == 30
    assert record.queue == "water-desk"


def test_queue_timeout_without_the_variable_is_still_no_agent() -> None:
    """A PBX whose manager user does not see VarSet: the PBX, not the caller, ended the call."""
    ami = (
        _caller_in_queue()
        + _chan("QueueCallerAbandon", 35, CALLER, CID, CID, "Queue: water-desk", "HoldTime: 30")
        + _chan("QueueCallerLeave", 35, CALLER, CID, CID, "Queue: water-desk")
        + _chan("SoftHangupRequest", 39, CALLER, CID, CID, "Cause: 16")
        + _chan("Hangup", 39, CALLER, CID, CID, "Cause: 16")
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.NO_AGENT
    assert record.hangup_by is HangupBy.SYSTEM


def test_caller_who_hangs_up_during_the_overflow_prompt_is_still_no_agent() -> None:
    ami = (
        _caller_in_queue()
        + _chan("QueueCallerAbandon", 35, CALLER, CID, CID, "Queue: water-desk", "HoldTime: 30")
        + _chan("VarSet", 35, CALLER, CID, CID, "Variable: QUEUESTATUS", "Value: TIMEOUT")
        + _chan("HangupRequest", 36, CALLER, CID, CID, "Cause: 16")
        + _chan("Hangup", 36, CALLER, CID, CID, "Cause: 16")
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.NO_AGENT
    assert record.hangup_by is HangupBy.CALLER


# --- 2. LINKEDID_END may overtake the call's last events ----------------------------------------


def test_outcome_does_not_depend_on_linkedid_end_arriving_first() -> None:
    ami = (
        CEL_ON
        + _caller_in_queue()
        + _chan("HangupRequest", 9.3, CALLER, CID, CID, "Cause: 16")
        + _cel("LINKEDID_END", 9.31, CID, CID)
        + _chan("QueueCallerAbandon", 9.32, CALLER, CID, CID, "Queue: water-desk", "HoldTime: 4")
        + _chan("QueueCallerLeave", 9.32, CALLER, CID, CID, "Queue: water-desk")
        + _chan("Hangup", 9.33, CALLER, CID, CID, "Cause: 16")
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.ABANDONED_QUEUE
    assert record.hangup_by is HangupBy.CALLER
    assert record.wait_s == 4
    assert record.close_reason is CloseReason.LINKEDID_END
    assert record.ended_at is not None
    assert record.ended_at.timestamp() == pytest.approx(1_795_500_009.31)


def test_linkedid_end_without_the_last_hangup_still_closes_after_linger() -> None:
    later = _chan("Newchannel", 60, "SIP/pstn-00000a02", "1795600060.20", "1795600060.20")
    ami = (
        CEL_ON
        + _caller_in_queue()
        + _chan("HangupRequest", 9.3, CALLER, CID, CID, "Cause: 16")
        + _cel("LINKEDID_END", 9.31, CID, CID)
        + later
    )
    records = run(ami, finish=False)
    assert [r.call_id for r in records] == [f"pbxA:{CID}"]
    assert records[0].close_reason is CloseReason.LINKEDID_END


# --- 3. the IVR path variable is the whole path --------------------------------------------------


def test_path_variable_and_menu_events_do_not_repeat_choices() -> None:
    steps = ""
    for at, path, choice in ((2, "*", "*"), (4, "*,9", "9"), (6, "*,9,2", "2")):
        var = ("Variable: HOTLINE_IVR_PATH", f"Value: {path}")
        steps += _chan("VarSet", at, CALLER, CID, CID, *var)
        steps += _chan(
            "UserEvent", at, CALLER, CID, CID, "UserEvent: HotlineIvr", f"Choice: {choice}"
        )
    ami = _caller_in_queue().split("Event: QueueCallerJoin")[0] + steps
    ami += _chan("Hangup", 8, CALLER, CID, CID, "Cause: 16")
    (record,) = run(ami, finish=False)
    assert record.ivr_path == ("*", "9", "2")


def test_menu_events_alone_still_build_the_path() -> None:
    steps = _chan("UserEvent", 2, CALLER, CID, CID, "UserEvent: HotlineIvr", "Choice: 3")
    steps += _chan("UserEvent", 4, CALLER, CID, CID, "UserEvent: HotlineIvr", "Choice: 1")
    ami = _caller_in_queue().split("Event: QueueCallerJoin")[0] + steps
    ami += _chan("Hangup", 8, CALLER, CID, CID, "Cause: 16")
    (record,) = run(ami, finish=False)
    assert record.ivr_path == ("3", "1")


# --- 4. attended transfer to a Local channel that Dials the agent -------------------------------

A1 = "Local/701@staff-00000011;1"
A2 = "Local/701@staff-00000011;2"
X1 = "Local/702@handover-00000012;1"
X2 = "Local/702@handover-00000012;2"
B1 = "Local/702@staff-00000013;1"
B2 = "Local/702@staff-00000013;2"


def _attended(disposition_header: str) -> str:
    u = {n: f"1795600005.{i}" for i, n in enumerate((A1, A2, X1, X2, B1, B2), start=11)}
    conv = (
        _chan("Newchannel", 5, A1, u[A1], CID, "ChannelState: 0", "Exten: 701")
        + _chan("Newchannel", 5, A2, u[A2], CID, "ChannelState: 4", "Exten: 701")
        + f"""
Event: AgentConnect
@8
Channel: {CALLER}
Uniqueid: {CID}
Linkedid: {CID}
DestChannel: {A1}
DestUniqueid: {u[A1]}
Queue: water-desk
Interface: Local/701@staff/n
MemberName: Desk 701 Zhou Min
HoldTime: 3
"""
        + _chan("Newstate", 8, A1, u[A1], CID, "ChannelState: 6")
        + _chan("BridgeEnter", 8, A1, u[A1], CID, "BridgeUniqueid: b-caller")
        + _chan("BridgeEnter", 8, CALLER, CID, CID, "BridgeUniqueid: b-caller")
        + """
Event: QueueMemberStatus
@9
Queue: water-desk
MemberName: Desk 702 Sun Li
Interface: Local/702@staff/n
Status: 2
"""
        + _chan("Hold", 20, A1, u[A1], CID)
        + _chan("Newchannel", 20, X1, u[X1], CID, "ChannelState: 0", "Exten: 702")
        + _chan("Newchannel", 20, X2, u[X2], CID, "ChannelState: 4", "Exten: 702")
        + _chan("BridgeLeave", 20, A1, u[A1], CID, "BridgeUniqueid: b-caller")
        + _chan("BridgeEnter", 20, X1, u[X1], CID, "BridgeUniqueid: b-consult")
        + _chan("BridgeEnter", 20, A1, u[A1], CID, "BridgeUniqueid: b-consult")
        + _chan("Newchannel", 20, B1, u[B1], CID, "ChannelState: 0", "Exten: 702")
        + _chan("Newchannel", 20, B2, u[B2], CID, "ChannelState: 4", "Exten: 702")
        + _chan("Newstate", 23, B1, u[B1], CID, "ChannelState: 6")
        + _chan("BridgeEnter", 23, B1, u[B1], CID, "BridgeUniqueid: b-dial")
        + _chan("BridgeEnter", 23, X2, u[X2], CID, "BridgeUniqueid: b-dial")
        + _chan("SoftHangupRequest", 28, A2, u[A2], CID, "Cause: 16")
        + _chan("Hangup", 28, A2, u[A2], CID, "Cause: 16")
        + _chan("BridgeLeave", 28, A1, u[A1], CID, "BridgeUniqueid: b-consult")
        + _chan("BridgeLeave", 28, X1, u[X1], CID, "BridgeUniqueid: b-consult")
        + _chan("BridgeEnter", 28, X1, u[X1], CID, "BridgeUniqueid: b-caller")
        + f"""
Event: AttendedTransfer
@28
Result: Success
OrigTransfererChannel: {A1}
OrigTransfererUniqueid: {u[A1]}
SecondTransfererChannel: {A1}
SecondTransfererUniqueid: {u[A1]}
TransfereeChannel: {CALLER}
TransfereeUniqueid: {CID}
TransferTargetChannel: {X1}
TransferTargetUniqueid: {u[X1]}
"""
        + f"""
Event: AgentComplete
@28
Channel: {CALLER}
Uniqueid: {CID}
Linkedid: {CID}
DestChannel: {A1}
DestUniqueid: {u[A1]}
Queue: water-desk
MemberName: Desk 701 Zhou Min
HoldTime: 3
TalkTime: 20
Reason: transfer
"""
        + _chan("Hangup", 28, A1, u[A1], CID, "Cause: 16")
        # The second agent hangs up; the hangup handler reports after LINKEDID_END.
        + _chan("SoftHangupRequest", 40, B2, u[B2], CID, "Cause: 16")
        + _chan("HangupRequest", 40, B1, u[B1], CID, "Cause: 16")
        + _chan("Hangup", 40, B1, u[B1], CID, "Cause: 16")
        + _chan("Hangup", 40, X2, u[X2], CID, "Cause: 16")
        + _chan("Hangup", 40, X1, u[X1], CID, "Cause: 16")
        + _chan("SoftHangupRequest", 40, CALLER, CID, CID, "Cause: 16")
        + _chan("Hangup", 40, CALLER, CID, CID, "Cause: 16")
        + _cel("LINKEDID_END", 40, CID, CID)
        + _chan(
            "UserEvent", 40.01, B2, u[B2], CID, "UserEvent: HotlineDisposition",
            "Disposition: work_order", disposition_header,
        )
        + _chan("Hangup", 40.02, B2, u[B2], CID, "Cause: 16")
    )  # fmt: skip
    return CEL_ON + _caller_in_queue() + conv


@pytest.mark.parametrize(
    "header", ["WorkOrder: WO-7", "WorkOrderId: WO-7", "WorkOrderID: WO-7", "Work-Order: WO-7"]
)
def test_attended_transfer_names_the_agent_reached_by_dial(header: str) -> None:
    (record,) = run(_attended(header), finish=False)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Desk 702 Sun Li"
    assert record.transfers == 1
    assert record.hold_s == pytest.approx(8)  # consultation: Hold at 20, transfer at 28
    assert record.disposition is Disposition.WORK_ORDER
    assert record.work_order_id == "WO-7"
    assert record.hangup_by is HangupBy.AGENT
    assert record.talk_s == pytest.approx(32)


# --- 5. survey callbacks over a trunk ----------------------------------------------------------

OUT = "DAHDI/i2/0731555-1"
OID = "1795600100.50"
SPOOL = "1795600119.60"


def _originate(dial_string: str = "g1/0731555") -> str:
    return (
        _chan(
            "Newchannel", 100, OUT, OID, OID, "ChannelState: 0", "CallerIDNum: <unknown>",
            "Context: default", "Exten: s",
        )
        + _chan("NewCallerid", 100, OUT, OID, OID, "CallerIDNum: 12345")
        + f"""
Event: DialBegin
@100
DestChannel: {OUT}
DestUniqueid: {OID}
DestLinkedid: {OID}
DialString: {dial_string}
"""
    )  # fmt: skip


def _spool(at: float) -> tuple[str, str]:
    """The failed extension's run on OutgoingSpoolFailed: (start, end)."""
    start = _chan(
        "Newchannel", at, "OutgoingSpoolFailed", SPOOL, SPOOL, "ChannelState: 0",
        "CallerIDNum: 12345", "Context: callback", "Exten: failed",
    )  # fmt: skip
    end = (
        _chan(
            "UserEvent", at, "OutgoingSpoolFailed", SPOOL, SPOOL, "Context: callback",
            "UserEvent: SurveyResult", "Result: busy",
        )
        + _chan("SoftHangupRequest", at, "OutgoingSpoolFailed", SPOOL, SPOOL, "Cause: 16")
        + _chan("Hangup", at, "OutgoingSpoolFailed", SPOOL, SPOOL, "Cause: 16")
        + _cel("LINKEDID_END", at, SPOOL, SPOOL)
    )  # fmt: skip
    return start, end


def _failure(reason: int) -> str:
    return f"""
Event: OriginateResponse
@119.5
Response: Failure
Channel: DAHDI/g1/0731555
Context: callback
Exten: s
Reason: {reason}
Uniqueid: <unknown>
"""


def _gone(cause: int) -> str:
    return (
        _chan("HangupRequest", 119, OUT, OID, OID, f"Cause: {cause}")
        + _cel("LINKEDID_END", 119, OID, OID)
        + _chan("Hangup", 119, OUT, OID, OID, f"Cause: {cause}")
    )


def test_busy_survey_whose_failed_run_came_first_is_one_survey_record() -> None:
    start, end = _spool(119.2)
    (record,) = run(CEL_ON + _originate() + _gone(17) + start + end + _failure(5), finish=False)
    assert record.call_id == f"pbxA:{OID}"
    assert record.kind is Kind.SURVEY
    assert record.direction is Direction.OUTBOUND
    assert record.dialed == "0731555"
    assert record.caller == "12345"
    assert record.outcome is Outcome.SURVEY_BUSY
    assert record.hangup_by is None


def test_unanswered_survey_whose_response_interrupts_the_failed_run() -> None:
    start, end = _spool(119.6)
    ami = CEL_ON + _originate() + _gone(19) + start + _failure(3) + end
    (record,) = run(ami, finish=False)
    assert record.call_id == f"pbxA:{OID}"
    assert record.kind is Kind.SURVEY
    assert record.outcome is Outcome.SURVEY_NO_ANSWER
    assert record.dialed == "0731555"


def test_answered_trunk_survey_has_its_answer_time_and_number() -> None:
    ami = (
        CEL_ON
        + _originate("carrier/0731555")
        + _chan("Newstate", 103, OUT, OID, OID, "ChannelState: 6")
        + f"""
Event: OriginateResponse
@103
Response: Success
Channel: {OUT}
Context: callback
Uniqueid: {OID}
"""
        + _chan("UserEvent", 107, OUT, OID, OID, "UserEvent: SurveyResult", "Result: 1")
        + _chan("SoftHangupRequest", 109, OUT, OID, OID, "Cause: 16")
        + _cel("LINKEDID_END", 109, OID, OID)
        + _chan("Hangup", 109, OUT, OID, OID, "Cause: 16")
    )
    (record,) = run(ami, finish=False)
    assert record.outcome is Outcome.SURVEY_COMPLETED
    assert record.survey_rating == 1
    assert record.dialed == "0731555"
    assert record.talk_s == pytest.approx(6)
    assert record.hangup_by is HangupBy.SYSTEM


# --- 6. a log without Timestamp that starts mid-call -------------------------------------------


def test_log_starting_mid_call_has_coherent_times_from_the_cdrs() -> None:
    """Shared capture 09, second connection alone: the call was answered before this login.

    Read from the capture: the caller's first channel's Cdr (UniqueID .129) has StartTime
    03:21:05; the agent channel's Cdr (Local/8004@agents-00000041;2) AnswerTime 03:21:12;
    AgentComplete HoldTime 2, TalkTime 17; CEL LINKEDID_END at 03:21:29.
    """
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(TrackerConfig()), StreamClock("UTC"), records.extend)
    replay([CAPTURES / "09_client_reconnect_midcall.conn2.raw"], pipeline)
    (record,) = records
    times = [record.started_at, record.queued_at, record.answered_at, record.ended_at]
    assert [t.isoformat() if t else None for t in times] == [
        "2026-11-24T03:21:05+00:00",
        "2026-11-24T03:21:10+00:00",
        "2026-11-24T03:21:12+00:00",
        "2026-11-24T03:21:29+00:00",
    ]
    assert record.wait_s == 2
    assert record.talk_s == 17


# --- PBX crash (issue 7): calls end when last seen alive, not at the new boot --------------------


def test_calls_cut_by_a_pbx_crash_end_at_the_last_event_heard() -> None:
    booted = """
Event: FullyBooted
@{at}
Uptime: {uptime}
Status: Fully Booted
"""
    ami = (
        booted.format(at=0, uptime=5000)
        + _caller_in_queue()
        + _chan("Newstate", 50, CALLER, CID, CID, "ChannelState: 6")
        # The PBX dies; the daemon logs in again 4 minutes later to a fresh boot.
        + booted.format(at=290, uptime=20)
    )
    (record,) = run(ami, finish=False)
    assert record.close_reason is CloseReason.PBX_RESTART
    assert record.ended_at is not None
    assert record.ended_at.timestamp() == pytest.approx(1_795_500_050)
    assert record.wait_s == pytest.approx(45)  # queued at 5, last seen at 50
    assert record.hangup_by is HangupBy.SYSTEM


def test_the_live_contact_names_the_agent_who_talks_now() -> None:
    """Before the call ends, the contact (what the status page reads) already shows the agent
    reached after the transfer."""
    text = _attended("WorkOrder: WO-7").split("Event: SoftHangupRequest\n@40")[0]
    frames = []
    for block in text.strip().split("\n\n"):
        lines = [
            f"Timestamp: {1_795_500_000 + float(line[1:]):.6f}" if line.startswith("@") else line
            for line in block.strip().splitlines()
        ]
        frames.append("\r\n".join(lines))
    codec = AmiCodec()
    codec.receive_data(("\r\n\r\n".join(frames) + "\r\n\r\n").encode())
    codec.receive_data(b"")
    tracker = CallTracker(TrackerConfig())
    Pipeline(tracker, StreamClock("UTC"), lambda records: None).feed_many(list(codec))
    (contact,) = tracker.contacts.values()
    assert contact.agent == "Desk 702 Sun Li"


def test_call_id_has_one_format() -> None:
    assert call_id_for("pbx1", "1795490233.6") == "pbx1:1795490233.6"
    assert call_id_for("pbx1", "1795490233.6", 2) == "pbx1:1795490233.6#2"
    assert split_call_id("pbx1:1795490233.6#2") == ("pbx1", "1795490233.6", 2)
    assert split_call_id("pbx1:1795490233.6") == ("pbx1", "1795490233.6", None)
    for bad in ("nocolon", ":1.2", "pbx1:", "pbx1:1.2#x"):
        with pytest.raises(ValueError, match="not a call id"):
            split_call_id(bad)
