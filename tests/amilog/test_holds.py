"""Recovery holds: each open contact holds the journal position of the frame that opened it."""

from __future__ import annotations

from telephony.ami.codec import AmiCodec
from telephony.amilog.journal import JournalPosition
from telephony.amilog.recovery import Holds
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from tests.paths import CAPTURES


def test_every_open_contact_holds_the_frame_that_opened_it() -> None:
    tracker = CallTracker(TrackerConfig(pbx="pbx1"))
    holds = Holds(tracker)
    finished: list[CallRecord] = []

    def sink(records: list[CallRecord]) -> None:
        finished.extend(records)
        holds.finished(records)

    pipeline = Pipeline(tracker, StreamClock("UTC"), sink)
    codec = AmiCodec()
    codec.receive_data((CAPTURES / "06_burst_20.main.raw").read_bytes())
    codec.receive_data(b"")
    opened_at: dict[str, JournalPosition] = {}
    most_open = 0
    for n, frame in enumerate(iter(codec.next_frame, None)):
        position = JournalPosition(1, n * 100, "hotline.ami")
        holds.current = position
        before = set(tracker.contacts)
        pipeline.feed(frame)
        holds.after_feed()
        for linkedid in set(tracker.contacts) - before:
            opened_at[linkedid] = position
        most_open = max(most_open, len(tracker.contacts))
        open_holds = {k: holds._contacts[k] for k in tracker.contacts}
        assert open_holds == {k: opened_at[k] for k in tracker.contacts}
        # Nothing is written yet: the first contact's opening is held until it is.
        assert holds.low_water() == min(opened_at.values(), default=position)
        if n % 50 == 0 and finished:
            holds.written(finished)  # the writer catches up: only open contacts hold now
            finished.clear()
            held = [opened_at[k] for k in tracker.contacts]
            assert holds.low_water() == min(held, default=position)
            opened_at = {k: opened_at[k] for k in tracker.contacts}
    assert most_open >= 10
