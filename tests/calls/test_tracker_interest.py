"""The tracker declares what it reads; the pipeline's prefilter is derived from that declaration."""

from __future__ import annotations

from telephony.ami.codec import AmiCodec, Frame
from telephony.calls.clock import StreamClock
from telephony.calls.handlers import HANDLERS, VARIABLES
from telephony.calls.record import CallRecord
from telephony.calls.system import CEL_EVENTS, SYSTEM_HANDLERS
from telephony.calls.tracker import CallTracker, TrackerConfig, tracker_interest
from telephony.pipeline import Pipeline


def _frames(text: str) -> list[Frame]:
    blocks = [b.strip().replace("\n", "\r\n") for b in text.strip().split("\n\n")]
    codec = AmiCodec()
    codec.receive_data(("\r\n\r\n".join(blocks) + "\r\n\r\n").encode())
    codec.receive_data(b"")
    return list(codec)


def _headers(**values: str) -> dict[str, str]:
    return values


def test_every_handled_event_and_variable_is_declared() -> None:
    interest = tracker_interest(TrackerConfig())
    names = {cls.__name__ for cls in (*HANDLERS, *SYSTEM_HANDLERS)}
    assert names == interest.events
    for variable in VARIABLES:
        for spelling in (variable, f"_{variable}", f"__{variable}"):
            assert interest.keeps("VarSet", _headers(Variable=spelling).get), spelling
    assert not interest.keeps("VarSet", _headers(Variable="BRIDGEPEER").get)
    for name in CEL_EVENTS:
        assert interest.keeps("CEL", _headers(EventName=name).get)
    assert not interest.keeps("CEL", _headers(EventName="CHAN_START").get)
    assert interest.presence == {"CEL"}


def test_newexten_rule_follows_the_configured_survey_contexts() -> None:
    interest = tracker_interest(TrackerConfig(survey_contexts=frozenset({"callback-2026"})))
    assert interest.keeps("Newexten", _headers(Context="callback-2026").get)
    assert not interest.keeps("Newexten", _headers(Context="survey").get)


def test_the_pipeline_decodes_what_the_interest_keeps_and_reports_presence() -> None:
    tracker = CallTracker(TrackerConfig(pbx="p"))
    records: list[CallRecord] = []
    pipeline = Pipeline(tracker, StreamClock("UTC"), records.extend)
    pipeline.feed_many(
        _frames(
            """
Event: CEL
Timestamp: 1795600000.0
EventName: CHAN_START
UniqueID: 1795600000.1
LinkedID: 1795600000.1

Event: VarSet
Timestamp: 1795600000.1
Channel: PJSIP/x-00000001
Uniqueid: 1795600000.1
Linkedid: 1795600000.1
Variable: QUEUESTATUS
Value: TIMEOUT

Event: VarSet
Timestamp: 1795600000.2
Channel: PJSIP/x-00000001
Uniqueid: 1795600000.1
Linkedid: 1795600000.1
Variable: BRIDGEPEER
Value: PJSIP/y-00000002

Event: DeviceStateChange
Timestamp: 1795600000.3
Device: PJSIP/x
State: INUSE
"""
        )
    )
    assert tracker.cel_mode  # CHAN_START was dropped by the CEL rule, yet seen
    assert pipeline.stats.decoded == 1  # only the QUEUESTATUS VarSet
    (contact,) = tracker.contacts.values()
    assert contact.queue_status == "TIMEOUT"
