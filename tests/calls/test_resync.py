"""Resync: hotline's own CoreShowChannels/QueueStatus lists rebuild the tracker in stream order.

The real capture 09 has a client that dropped mid-call (conn1) and a second connection (conn2)
that logged in and listed the live channels; renaming conn2's ActionIDs to hotline's resync
prefix makes that list ours, as the daemon's own journal would show it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from telephony.ami.codec import AmiCodec
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord, CloseReason, Outcome
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import RESYNC_PREFIX, Pipeline

ROOT = Path(__file__).resolve().parents[2]
from tests.paths import CAPTURES  # noqa: E402


def feed(*streams: bytes) -> tuple[list[CallRecord], Pipeline]:
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="pbx1")), StreamClock("UTC"), records.extend)
    for data in streams:
        codec = AmiCodec()
        codec.receive_data(data)
        codec.receive_data(b"")
        pipeline.feed_many(iter(codec.next_frame, None))
    return records, pipeline


def ours(data: bytes, conn: bytes) -> bytes:
    return data.replace(b"ActionID: " + conn + b"-", b"ActionID: " + RESYNC_PREFIX.encode())


def test_resync_keeps_a_live_call_and_the_record_equals_the_hand_derived_one() -> None:
    conn1 = (CAPTURES / "09_client_reconnect_midcall.conn1.raw").read_bytes()
    conn2 = ours((CAPTURES / "09_client_reconnect_midcall.conn2.raw").read_bytes(), b"conn2")
    assert RESYNC_PREFIX.encode() in conn2
    records, pipeline = feed(conn1, conn2)
    pipeline.finish()
    expected = json.loads(
        (ROOT / "tests/fixtures/expected/09_client_reconnect_midcall.json").read_text()
    )["records"]
    assert [r.call_id for r in records] == [e["call_id"] for e in expected]
    (record,) = records
    (want,) = expected
    assert record.close_reason is CloseReason.LINKEDID_END
    assert record.outcome.value == want["outcome"]
    assert record.ended_at == datetime.fromisoformat(want["ended_at"])
    assert record.talk_s == want["talk_s"]


def test_resync_adopts_calls_that_started_while_we_were_away() -> None:
    """Only conn2 (the call began before this login): the list gives channels and start.

    As in a hotline journal, the list items carry the receive time (03:21:16.4, from the
    .framed file) as Timestamp; the call's Uniqueid says it began at 03:21:05.
    """
    conn2 = ours((CAPTURES / "09_client_reconnect_midcall.conn2.raw").read_bytes(), b"conn2")
    conn2 = conn2.replace(
        b"Event: CoreShowChannel\r\n", b"Event: CoreShowChannel\r\nTimestamp: 1795490476.4\r\n"
    )
    records, pipeline = feed(conn2)
    pipeline.finish()
    (record,) = records
    assert record.call_id == "pbx1:1795490465.129"
    assert record.caller == "79160000009"  # from the adopted first channel
    assert record.outcome is Outcome.ANSWERED
    # Duration 00:00:11 of the first channel, 11 s before the list arrived.
    assert record.started_at is not None
    assert record.started_at.timestamp() == 1795490476.4 - 11


def test_a_call_gone_at_resync_is_closed_as_vanished_once() -> None:
    """conn1 dropped mid-call; at the next login the PBX lists no channel."""
    conn1 = (CAPTURES / "09_client_reconnect_midcall.conn1.raw").read_bytes()
    resync = (
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Response: Success\r\nActionID: hotline-resync-1\r\nEventList: start\r\n"
        b"Message: Channels will follow\r\n\r\n"
        b"Event: CoreShowChannelsComplete\r\nTimestamp: 1795490500.0\r\n"
        b"ActionID: hotline-resync-1\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
        b"Event: FullyBooted\r\nTimestamp: 1795490530.0\r\nUptime: 500\r\nLastReload: 500\r\n\r\n"
        # Keepalive answers carry the PBX's time: the first arms the grace, a later one ends it.
        b"Response: Success\r\nActionID: hotline-9\r\nPing: Pong\r\n"
        b"Timestamp: 1795490531.0\r\n\r\n"
        b"Response: Success\r\nActionID: hotline-10\r\nPing: Pong\r\n"
        b"Timestamp: 1795490541.5\r\n\r\n"
    )
    records, _ = feed(conn1, resync)
    (record,) = records  # closed by the keepalive, before the end of the log
    assert record.close_reason is CloseReason.VANISHED
    assert record.hangup_by is None  # how it ended was not seen
    assert record.outcome is Outcome.ANSWERED
    # Ended at the last moment we saw it, not at the resync.
    assert record.ended_at is not None
    assert record.ended_at.timestamp() < 1795490500.0
    assert record.answered_at is not None


def test_lists_asked_by_other_clients_are_not_applied() -> None:
    conn1 = (CAPTURES / "09_client_reconnect_midcall.conn1.raw").read_bytes()
    foreign = (
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Event: CoreShowChannelsComplete\r\nTimestamp: 1795490500.0\r\n"
        b"ActionID: someone-else-1\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
    )
    records, pipeline = feed(conn1, foreign)
    assert records == []
    pipeline.finish()
    assert [r.close_reason for r in records] == [CloseReason.END_OF_LOG]
